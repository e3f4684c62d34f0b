"""A whole regency on one machine: a PKI, a real Mosquitto with TLS, and real node processes.

Why it exists: `make demo`, bench/sync_catchup.py and the sync integration tests need the
same real set-up on one machine (a CA with central issued first; a broker configured by
sync.broker.mosquitto_conf; node folders made by init_node and enrolled with the broker's
port patched into their bundles, the central with the full directory; `siaga112 sync run`
and `siaga112 serve` as processes that never outlive their parent). It is easy to get
subtly wrong, so it is written once, here; everything listens on 127.0.0.1 only.

    with LocalRegency(root, [("central", "central", None, []), ("posko-a", "posko", None, ["Bengkalis"])]) as net:
        net.broker.start(); net.start_sync("central"); net.start_sync("posko-a")
        with net.use("posko-a"): ...  # edge.services calls on posko-a's database

A folder that already holds a regency is reused with its data; each set-up step is skipped
when done, so an interrupted set-up completes on the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edge.db import database_path, open_database
from edge.models import db_proxy
from edge.services.node import init_node
from sync import pki as pki_lib
from sync.broker import mosquitto_conf

MOSQUITTO = "/usr/sbin/mosquitto"
HOST = "127.0.0.1"
CA_NAME = "Diskominfotik Bengkalis"
RESERVED = frozenset({"pki", "broker"})  # folder names of the regency root

NodeSpec = tuple[str, str, str | None, list[str]]  # (node_id, role, agency, areas)


class LocalnetError(RuntimeError):
    """The local regency cannot be set up or a process of it failed (the message says why)."""


def free_port(host: str = HOST) -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_free(port: int, host: str = HOST) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((host, port))
    except OSError:
        return False
    return True


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float, what: str, log: Callable[[], str],
              host: str = HOST) -> None:
    """Wait until `host:port` accepts TCP; LocalnetError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise LocalnetError(f"{what} exited with {proc.returncode}:\n{log()[-3000:]}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise LocalnetError(f"{what} did not listen on {host}:{port} within {timeout}s:\n"
                                    f"{log()[-3000:]}") from None
            time.sleep(0.05)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the process that started it dies (even by kill -9)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a child with stdout+stderr appended to `log_path`, in its own session (a Ctrl+C
    in the terminal reaches only the parent, which stops children in order) and tied to
    the parent's life (call it from a thread that outlives the child, e.g. the main one)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL if need be."""
    if not running(proc):
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def running(proc: subprocess.Popen | None) -> bool:
    return proc is not None and proc.poll() is None


class LocalBroker:
    """A real Mosquitto on a loopback port, configured by sync.broker.mosquitto_conf."""

    host = HOST

    def __init__(self, workdir: Path, pki_dir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.pki_dir = Path(pki_dir)
        self.port = port or free_port()
        self.log_path = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None
        self.conf = self.configure()

    def configure(self) -> Path:
        """(Re)write mosquitto.conf and the ACL from the PKI's current registry."""
        # `user` = whoever runs us, so a root run does not drop to the 'mosquitto' user.
        self.conf = mosquitto_conf(self.pki_dir, self.workdir, self.port, user=pwd.getpwuid(os.geteuid()).pw_name)
        return self.conf

    def log(self) -> str:
        return _read_log(self.log_path)

    def alive(self) -> bool:
        return running(self.proc)

    def start(self, timeout: float = 5.0) -> None:
        """Start Mosquitto and wait until its TLS port accepts TCP connections."""
        if self.alive():
            return
        if not Path(MOSQUITTO).exists():
            raise LocalnetError(f"{MOSQUITTO} is missing: install the Debian package 'mosquitto' "
                                "(apt-get install mosquitto; `make` does it when run as root)")
        if not port_free(self.port, self.host):
            raise LocalnetError(f"broker port {self.host}:{self.port} is already in use")
        # stdbuf: Mosquitto block-buffers stdout into a file; line-buffer it so the log is live.
        prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        self.proc = spawn([*prefix, MOSQUITTO, "-c", str(self.conf)], self.log_path)
        try:
            wait_port(self.port, self.proc, timeout, "mosquitto", self.log, self.host)
        except LocalnetError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None

    def restart(self) -> None:
        """Stop, regenerate the configuration (ACL, CRL path) and start again."""
        self.stop()
        self.configure()
        self.start()

    def hup(self) -> None:
        """SIGHUP: Mosquitto reloads parts of its configuration, e.g. the ACL (a new CRL needs restart())."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)


@dataclass
class LocalNode:
    node_id: str
    role: str
    agency: str | None
    areas: list[str]
    data_dir: Path
    sync_proc: subprocess.Popen | None = None
    web_proc: subprocess.Popen | None = None
    web_port: int | None = None
    sync_log: Path = field(init=False)  # <node>/sync.log, <node>/web.log, <node>/siaga112.sqlite3
    web_log: Path = field(init=False)
    db_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.sync_log, self.web_log, self.db_path = (self.data_dir / "sync.log", self.data_dir / "web.log",
                                                     database_path(self.data_dir))


def _installed_node_id(data_dir: Path) -> str | None:
    """The node id of an initialised node folder, or None (read without binding the models)."""
    path = database_path(data_dir)
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as con:
        try:
            row = con.execute("SELECT value FROM node_setting WHERE key = 'node_id'").fetchone()
        except sqlite3.OperationalError:  # a database without the schema yet
            return None
    return row[0] if row and row[0] else None


class LocalRegency:
    """A PKI under root/pki, a broker under root/broker and one node folder root/<node_id> each.

    Construction creates (or reuses) everything on disk but starts nothing: start the
    broker with `.broker.start()`, then `start_sync` / `start_web` per node; `stop()` (or
    leaving the `with` block) stops every process that was started.
    """

    def __init__(self, root: Path, nodes: list[NodeSpec], profile: str = "bengkalis",
                 broker_port: int | None = None, ca_name: str = CA_NAME) -> None:
        self.root = Path(root).absolute()
        if database_path(self.root).exists():
            raise LocalnetError(f"{self.root} holds a single node's database, not a local regency; "
                                "move it away or choose another folder")
        self.pki_dir = self.root / "pki"
        self.profile = profile
        self.ca_name = ca_name
        # Central first: issue_node needs it before any posko or agency node.
        ordered = sorted(nodes, key=lambda n: n[1] != "central")
        self.nodes: dict[str, LocalNode] = {}
        for node_id, role, agency, areas in ordered:
            if node_id in RESERVED or node_id in self.nodes:
                raise LocalnetError(f"node id {node_id!r} is reserved or given twice")
            self.nodes[node_id] = LocalNode(node_id, role, agency, list(areas), self.root / node_id)
        self.created: list[str] = []  # nodes whose database this call created (the rest were reused)
        self._setup_pki()
        self.broker = LocalBroker(self.root / "broker", self.pki_dir, broker_port)
        for node in self.nodes.values():
            self._setup_node(node)

    # --- set-up (idempotent) -------------------------------------------------------------

    def _setup_pki(self) -> None:
        if not (self.pki_dir / "registry.json").exists():
            pki_lib.init_ca(self.pki_dir, self.ca_name)
        registry = pki_lib.load_registry(self.pki_dir)
        for node in self.nodes.values():
            entry = registry.get(node.node_id)
            if entry is None:
                pki_lib.issue_node(self.pki_dir, node.node_id, node.role, agency=node.agency, areas=node.areas)
            elif (entry.get("role"), entry.get("agency")) != (node.role, node.agency) or entry.get("revoked"):
                raise LocalnetError(f"{self.pki_dir} already has {node.node_id} as {entry.get('role')} "
                                    f"(agency {entry.get('agency')}, revoked {entry.get('revoked')}); "
                                    f"remove {self.root} to start over")

    def _setup_node(self, node: LocalNode) -> None:
        installed = _installed_node_id(node.data_dir)
        if installed is None:
            init_node(node.data_dir, node.node_id, node.role, self.profile).db.close()
            db_proxy.initialize(None)
            self.created.append(node.node_id)
        elif installed != node.node_id:
            raise LocalnetError(f"{node.data_dir} belongs to node {installed!r}, not {node.node_id!r}")
        self.enrol(node.node_id)

    def enrol(self, node_id: str) -> None:
        """(Re)install the node's bundle with the broker's current port; the central gets the
        full directory. Done at every construction, so a reused regency follows a new port."""
        node = self.nodes[node_id]
        bundle = pki_lib.load_bundle(self.pki_dir / node_id / "bundle.json")
        bundle["broker"]["host"] = self.broker.host
        bundle["broker"]["port"] = self.broker.port
        pki_lib.install_bundle(bundle, node.data_dir / "sync")
        if node.role == "central":
            pki_lib.write_directory(self.pki_dir, node.data_dir / "sync" / "directory.json")

    # --- access --------------------------------------------------------------------------

    def __getitem__(self, node_id: str) -> LocalNode:
        return self.nodes[node_id]

    @contextlib.contextmanager
    def use(self, node_id: str) -> Iterator:
        """Bind the models to the node's database for in-process edge.services calls."""
        db = open_database(self.nodes[node_id].data_dir)
        try:
            with db.connection_context():
                yield db
        finally:
            db_proxy.initialize(None)

    # --- processes -----------------------------------------------------------------------

    def start_sync(self, node_id: str, **env: str) -> None:
        """Start `siaga112 sync run` for the node (log: <node>/sync.log)."""
        node = self.nodes[node_id]
        if running(node.sync_proc):
            return
        node.sync_proc = spawn([sys.executable, "-m", "edge.cli", "sync", "run", "--data-dir", str(node.data_dir)],
                               node.sync_log, {"SIAGA112_LOG_LEVEL": "INFO", **env})

    def stop_sync(self, node_id: str, timeout: float = 10.0) -> None:
        """SIGTERM: the daemon publishes 'offline' and disconnects cleanly."""
        node = self.nodes[node_id]
        stop_process(node.sync_proc, timeout)
        node.sync_proc = None

    def kill_sync(self, node_id: str) -> None:
        """kill -9: no clean shutdown, no last words."""
        node = self.nodes[node_id]
        if running(node.sync_proc):
            node.sync_proc.kill()
            node.sync_proc.wait(10)
        node.sync_proc = None

    def sync_alive(self, node_id: str) -> bool:
        return running(self.nodes[node_id].sync_proc)

    def start_web(self, node_id: str, port: int, host: str = HOST, timeout: float = 20.0) -> str:
        """Start `siaga112 serve` for the node and wait until it listens; returns its URL."""
        node = self.nodes[node_id]
        if running(node.web_proc):
            raise LocalnetError(f"{node_id}'s web app is already running on port {node.web_port}")
        if not port_free(port, host):
            raise LocalnetError(f"port {host}:{port} for {node_id}'s web app is already in use")
        env = {"SIAGA112_LOG_LEVEL": "WARNING"}
        if node.role == "central":  # central's node pages enrol and revoke with the regency's PKI and broker
            env.update(SIAGA112_PKI_DIR=str(self.pki_dir), SIAGA112_BROKER_DIR=str(self.broker.workdir))
        node.web_proc = spawn([sys.executable, "-m", "edge.cli", "serve", "--data-dir", str(node.data_dir),
                               "--host", host, "--port", str(port)], node.web_log, env)
        node.web_port = port
        wait_port(port, node.web_proc, timeout, f"{node_id} web app", lambda: _read_log(node.web_log), host)
        return f"http://{host}:{port}/"

    def stop_web(self, node_id: str) -> None:
        node = self.nodes[node_id]
        stop_process(node.web_proc, 10)
        node.web_proc = None
        node.web_port = None

    def dead_processes(self) -> list[str]:
        """Started processes that have exited on their own (for watchdogs), e.g. ['posko-a sync']."""
        dead = [f"{n.node_id} {kind}" for n in self.nodes.values()
                for kind, proc in (("sync", n.sync_proc), ("web", n.web_proc))
                if proc is not None and proc.poll() is not None]
        if self.broker.proc is not None and not self.broker.alive():
            dead.append("broker")
        return dead

    def stop(self) -> None:
        """Stop web apps, then sync daemons (they say 'offline' while the broker is up), then the broker."""
        for node in self.nodes.values():
            self.stop_web(node.node_id)
        for node in self.nodes.values():  # signal all first: they shut down in parallel
            if running(node.sync_proc):
                node.sync_proc.terminate()
        for node in self.nodes.values():
            self.stop_sync(node.node_id)
        self.broker.stop()

    def __enter__(self) -> LocalRegency:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- diagnosis -----------------------------------------------------------------------

    def logs(self, tail: int = 3000) -> str:
        parts = [f"--- {n.node_id} sync ---\n{_read_log(n.sync_log)[-tail:]}" for n in self.nodes.values()]
        return "\n".join(parts) + f"\n--- broker ---\n{self.broker.log()[-tail:]}"

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "",
                 interval: float = 0.2) -> None:
        """Poll `predicate` until true; LocalnetError with the logs' tails on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval)
        raise LocalnetError(f"timed out after {timeout}s waiting for {what}\n{self.logs()}")
