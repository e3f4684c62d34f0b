"""Opening the database: one function that every process (web, CLI, sync, bridge, central) calls.

A node's database is SQLite in its data folder (`siaga112.sqlite3`) unless the folder
holds a `database_url` file (written by `siaga112 init --role central --database-url
postgresql://...`, mode 0600): then it is that database, opened with peewee's
`playhouse.db_url`. `SIAGA112_DATABASE_URL` overrides the stored URL (e.g. to keep the
password out of the file); it never turns a SQLite node into a PostgreSQL one.

SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged case survives a
power cut at an island posko; foreign keys are enforced and writers wait instead of
failing while another process holds the lock. On PostgreSQL, `atomic("IMMEDIATE")`
takes an advisory lock with the same effect (edge/dialect.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from peewee import Database
from playhouse.db_url import parse as parse_url

from edge.dialect import NodePostgresqlDatabase, is_postgres
from edge.models import ALL_MODELS, APPEND_ONLY_TABLES, db_proxy
from edge.write_queue import QueuedSqliteDatabase

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: fsync the WAL on every commit
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}

DB_FILENAME = "siaga112.sqlite3"
URL_FILENAME = "database_url"
URL_ENV = "SIAGA112_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
URL_SCHEMES = (*POSTGRES_SCHEMES, "sqlite")
NO_DATABASE_NAME = "the database URL names no database (postgresql://user@host:5432/NAME)"


class DatabaseUrlError(ValueError):
    """A database URL this program cannot open (the message says why)."""


def database_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DB_FILENAME


def url_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / URL_FILENAME


def database_url(data_dir: str | Path) -> str | None:
    """The node's database URL, or None for the SQLite file in its data folder."""
    path = url_path(data_dir)
    if not path.exists():
        return None
    return os.environ.get(URL_ENV) or path.read_text(encoding="utf-8").strip()


def node_exists(data_dir: str | Path) -> bool:
    """Does `data_dir` hold a node's database (a SQLite file or a database URL)?"""
    return database_path(data_dir).exists() or url_path(data_dir).exists()


def check_url(url: str) -> str:
    """The URL's scheme if we can open it; DatabaseUrlError otherwise."""
    parsed = urlparse(url)
    if parsed.scheme not in URL_SCHEMES:
        raise DatabaseUrlError(f"unsupported database URL scheme {parsed.scheme!r}: use postgresql://")
    if not parsed.path.strip("/"):
        raise DatabaseUrlError(NO_DATABASE_NAME)
    return parsed.scheme


def save_url(data_dir: str | Path, url: str) -> Path:
    """Store the node's database URL (it may hold a password: mode 0600 from the start)."""
    check_url(url)
    path = url_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(url.strip() + "\n")
    path.chmod(0o600)
    return path


def connect_url(url: str) -> Database:
    """A peewee database for `url` (not bound to the models, not connected yet)."""
    scheme = check_url(url)
    kwargs = parse_url(url, unquote_password=True, unquote_user=True)
    name = kwargs.pop("database")
    if scheme in POSTGRES_SCHEMES:
        kwargs.setdefault("application_name", "siaga112")
        return NodePostgresqlDatabase(name, **kwargs)
    return QueuedSqliteDatabase(name, pragmas=SQLITE_PRAGMAS, check_same_thread=False, **kwargs)


def bind(db: Database) -> Database:
    db_proxy.initialize(db)
    return db


def open_database(data_dir: str | Path) -> Database:
    """Open (and bind the models to) the node's database: its URL if it has one, else SQLite in `data_dir`."""
    url = database_url(data_dir)
    if url:
        return bind(connect_url(url))
    # Writers queue for their turn (edge/write_queue.py) instead of polling SQLite's busy handler.
    return bind(QueuedSqliteDatabase(str(database_path(data_dir)), pragmas=SQLITE_PRAGMAS, check_same_thread=False))


def create_schema(db: Database) -> None:
    """Migrate the schema to this release (edge/migrations), then create every missing table,
    index, the append-only guards and change capture. Safe to run twice, and by two processes
    at once."""
    from edge.migrations import migrate
    from sync import outbox
    from sync.models import SYNC_MODELS

    migrate(db)  # each step in its own write transaction; a fresh database is only stamped
    # IMMEDIATE: take the write lock up front, so a web app and a sync daemon opening the
    # same node at once wait for each other instead of failing a read-to-write upgrade.
    with db.atomic("IMMEDIATE"):
        db.create_tables(ALL_MODELS + SYNC_MODELS, safe=True)
        if is_postgres(db):
            from sync import outbox_pg

            outbox_pg.install_guards(db, APPEND_ONLY_TABLES)
        else:
            for table in APPEND_ONLY_TABLES:
                for op in ("UPDATE", "DELETE"):
                    db.execute_sql(
                        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                    )
        outbox.install(db)
