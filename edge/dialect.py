"""What differs between SQLite (every node) and PostgreSQL (central, when given a URL), in one place.

The code is written once against peewee; the few spots where the two databases disagree
go through here: the write lock behind `atomic("IMMEDIATE")`, the placeholder of the raw
SQL that sync needs, how a foreign-key failure reads, and the values a row holds when
read back (PostgreSQL gives booleans and datetimes, SQLite gives 1/0 and text).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

# pg_advisory_xact_lock key of the node-wide write lock (SQLite's BEGIN IMMEDIATE).
WRITE_LOCK_KEY = 112_112
WRITE_LOCK_TYPES = ("IMMEDIATE", "EXCLUSIVE")


class NodePostgresqlDatabase(PostgresqlDatabase):
    """PostgreSQL that honours SQLite's lock types: `db.atomic("IMMEDIATE")` begins a
    transaction holding a transaction-scoped advisory lock, so read-then-write sequences
    (counters, the audit hash chain, the sync envelope sequence) run one at a time across
    processes exactly as they do on SQLite. Other transactions are plain READ COMMITTED."""

    def begin(self, lock_type: str | None = None) -> None:  # type: ignore[override]
        super().begin()
        if lock_type and str(lock_type).upper() in WRITE_LOCK_TYPES:
            self.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))


WRITE_LOCKING = (SqliteDatabase, NodePostgresqlDatabase)  # databases where atomic("IMMEDIATE") locks


def real(db: Database | DatabaseProxy) -> Database:
    return db.obj if isinstance(db, DatabaseProxy) else db


def is_postgres(db: Database | DatabaseProxy) -> bool:
    return isinstance(real(db), PostgresqlDatabase)


def sql(db: Database | DatabaseProxy, text: str) -> str:
    """`text` written with `?` placeholders, in the database's own placeholder style."""
    param = real(db).param
    return text if param == "?" else text.replace("?", param)


def is_foreign_key_error(exc: Exception) -> bool:
    """SQLite: 'FOREIGN KEY constraint failed'; PostgreSQL: '... violates foreign key constraint ...'."""
    return "foreign key" in str(exc).lower()


def portable(value: Any) -> Any:
    """A column value as SQLite holds it (booleans 1/0, datetimes as peewee's text)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return str(value)  # isoformat(" "), the text peewee stores in SQLite
    return value
