"""Opening the database: one function that every process (web, CLI, sync, central) calls.

SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged case survives a
power cut at an island posko; foreign keys are enforced and writers wait instead of
failing while another process holds the lock.
"""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

from edge.models import ALL_MODELS, APPEND_ONLY_TABLES, db_proxy

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: fsync the WAL on every commit
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}

DB_FILENAME = "siaga112.sqlite3"


def database_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DB_FILENAME


def open_database(data_dir: str | Path) -> SqliteDatabase:
    """Open (and bind the models to) the node's SQLite database in `data_dir`."""
    path = database_path(data_dir)
    db = SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    db_proxy.initialize(db)
    return db


def create_schema(db: SqliteDatabase) -> None:
    """Create every table, index and the append-only guards. Safe to run twice."""
    from sync import outbox
    from sync.models import SYNC_MODELS

    # IMMEDIATE: take the write lock up front, so a web app and a sync daemon opening the
    # same node at once wait for each other instead of failing a read-to-write upgrade.
    with db.atomic("IMMEDIATE"):
        db.create_tables(ALL_MODELS + SYNC_MODELS, safe=True)
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                db.execute_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        outbox.install(db)
