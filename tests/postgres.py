"""A real PostgreSQL server for tests (and benches): Debian's binaries, a throw-away cluster.

Why it exists: central must run on PostgreSQL as well as SQLite (issue 5), and that is
only believable against a real server. One server is started per test session with
`initdb` in a temp folder, listening on a free loopback port (its unix socket in the same
folder); every test gets a fresh database in it (`postgres_url`, alias `fresh_pg_database`).
PostgreSQL refuses to run as root, so when we are root (CI is) initdb and postgres run as
the `postgres` system user (`runuser -u postgres`) and the folder is handed to it.

Missing PostgreSQL never passes silently: under CI (env CI=true) the fixture fails with
what to install; elsewhere the tests that need it are skipped with the same message.

Outside pytest: `with PostgresServer() as pg: url = pg.create_database()`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.localnet import free_port, spawn, stop_process

HOST = "127.0.0.1"
SUPERUSER = "siaga112"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
MISSING = ("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian "
           "package 'postgresql' (apt-get install postgresql; `make test` does it when run as root)")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (the message says why)."""


def pg_bin_dir() -> Path | None:
    """The newest installed server's bin folder (with initdb and postgres), or None."""
    found = [Path(d) for d in glob.glob(PG_BIN_GLOB)
             if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


class PostgresServer:
    """One throw-away PostgreSQL cluster; `start()` / `stop()` or use it as a context manager."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = pg_bin_dir()
        self.port = port or free_port(HOST)
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._as_user: list[str] = []

    # --- life cycle ----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> PostgresServer:
        if self.bin is None:
            raise PostgresUnavailable(MISSING)
        self.root = Path(tempfile.mkdtemp(prefix="siaga112-pg-"))
        try:
            self._start(timeout)
        except BaseException:
            self.stop()  # no cluster folder or server left behind
            raise
        return self

    def _start(self, timeout: float) -> None:
        assert self.root is not None and self.bin is not None
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root but there is no 'postgres' system user to run "
                                          "the server as (it comes with the Debian package 'postgresql')") from exc
            if not shutil.which("runuser"):
                raise PostgresUnavailable("running as root and 'runuser' (util-linux) is missing")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data, sock = self.root / "data", self.root / "sock"
        self._run([str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        self._run(["mkdir", "-p", str(sock)])
        # Durability is irrelevant for a throw-away cluster; speed is not.
        self.proc = spawn([*self._as_user, str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port),
                           "-h", HOST, "-k", str(sock), "-c", "fsync=off", "-c", "synchronous_commit=off",
                           "-c", "full_page_writes=off", "-c", "max_connections=200"],
                          self.root / "postgres.log")
        self._wait_ready(timeout)

    def _run(self, cmd: list[str]) -> None:
        out = subprocess.run([*self._as_user, *cmd], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise PostgresUnavailable(f"postgres exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                psycopg2.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="postgres",
                                 connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"postgres not ready within {timeout}s:\n{self.log()[-3000:]}") from None
                time.sleep(0.1)

    def log(self) -> str:
        path = self.root / "postgres.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster itself: runuser does not pass SIGINT on) and
        remove the folder."""
        pidfile = self.root / "data" / "postmaster.pid" if self.root else None
        if self.proc is not None and self.proc.poll() is None and pidfile and pidfile.exists():
            with contextlib.suppress(ValueError, OSError, subprocess.TimeoutExpired):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGINT)
                self.proc.wait(20)
        stop_process(self.proc, 5)
        self.proc = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- databases -----------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg2

        con = psycopg2.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _unavailable(message: str) -> None:
    """Fail under CI, skip elsewhere: never a silent pass."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


_SHARED: list[PostgresServer] = []  # one server per test session, whichever module imports the fixture


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use, stopped at the end)."""
    if not _SHARED:
        server = PostgresServer()
        try:
            server.start()
        except PostgresUnavailable as exc:
            _unavailable(str(exc))
        _SHARED.append(server)
    try:
        yield _SHARED[0]
    finally:
        while _SHARED:  # session teardown: every importer's fixture ends now
            _SHARED.pop().stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test: its URL (dropped afterwards)."""
    url = postgres_server.create_database()
    yield url
    with contextlib.suppress(Exception):
        postgres_server.drop_database(url.rsplit("/", 1)[1])


fresh_pg_database = postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """Parametrize a test over both backends: None for SQLite, a fresh database URL for PostgreSQL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")
