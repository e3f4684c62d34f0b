"""Moving an existing central from its SQLite file to PostgreSQL: `siaga112 db copy --to URL`.

Why it exists: a regency starts central on SQLite and moves to PostgreSQL when the
province joins; the move must keep every record, the sync log (peers' checkpoints count
its ids), the clock and the audit chain exactly. The copy reads the SQLite file inside one
EXCLUSIVE transaction (no process can write meanwhile), writes every table into an empty
PostgreSQL database with change capture switched off (copied rows are not new changes),
moves the id sequences past the copied ids, then checks row counts, the content hash of
every replicated table and the audit chain before the node folder is switched over
(`database_url` written, the SQLite file renamed `*.before-postgresql`, kept as a backup).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from peewee import AutoField, Database, sort_models

from edge.db import (
    DB_FILENAME,
    bind,
    connect_url,
    create_schema,
    database_path,
    database_url,
    open_database,
    save_url,
)
from edge.dialect import is_postgres
from edge.models import ALL_MODELS, NodeSetting, db_proxy

BATCH = 1000
BACKUP_SUFFIX = ".before-postgresql"
# Operator messages of the command line (English, like the other CLI-only errors).
NOT_CENTRAL = "only a central node moves to PostgreSQL; posko and agency stations stay on SQLite"
NOT_EMPTY = "the target database is not empty (it already holds a node)"
HASH_DIFFERS = "the copy's content differs from the source (content hash)"


class CopyError(Exception):
    """The node cannot be copied (the message says why); nothing was switched over."""


@dataclass
class CopyResult:
    rows: dict[str, int] = field(default_factory=dict)
    events_checked: int = 0
    backup: Path | None = None


def _models() -> list:
    from sync.models import SYNC_MODELS

    return sort_models(list(ALL_MODELS) + list(SYNC_MODELS))  # parents before children


def _copy_table(model, source: Database, target: Database) -> int:
    from sync.models import SyncClock

    fields = model._meta.sorted_fields
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    cursor = source.execute_sql(f'SELECT {columns} FROM "{model._meta.table_name}"')
    count = 0
    while rows := cursor.fetchmany(BATCH):
        if model is SyncClock:  # the row create_schema made: take the source's clock
            for _id, hlc, _capture in rows:
                SyncClock.update(hlc=hlc).where(SyncClock.id == 1).execute()
        else:
            # Through the model, so values get the same conversion as any write (1/0 -> boolean, text -> timestamp).
            model.insert_many(rows, fields=fields).execute()
        count += len(rows)
    if is_postgres(target):
        for f in fields:
            if isinstance(f, AutoField):
                table = model._meta.table_name
                target.execute_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{f.column_name}'), "
                    f'COALESCE(MAX("{f.column_name}"), 1), MAX("{f.column_name}") IS NOT NULL) FROM "{table}"')
    return count


def _check(source: Database, target: Database, rows: dict[str, int]) -> int:
    """Counts, content hashes and the audit chain of the copy; CopyError when anything differs."""
    from edge.services.audit import verify
    from sync.outbox import content_hash

    bind(target)
    for model in _models():
        table = model._meta.table_name
        if model.select().count() != rows[table]:
            raise CopyError(f"{table}: {model.select().count()} rows in the copy, {rows[table]} in the source")
    copied = content_hash()
    checked, problems = verify()
    if problems:
        raise CopyError(f"audit chain broken in the copy: {problems[0]}")
    bind(source)
    if content_hash() != copied:
        raise CopyError(HASH_DIFFERS)
    return checked


def copy_node(data_dir: str | Path, url: str, switch: bool = True) -> CopyResult:
    """Copy the SQLite central in `data_dir` into the empty database at `url` and (with
    `switch`) make the node use it. Stop the node's web app and sync daemon first."""
    data_dir = Path(data_dir)
    if database_url(data_dir):
        raise CopyError(f"{data_dir} already uses a database URL; only a SQLite node can be copied")
    if not database_path(data_dir).exists():
        raise CopyError(f"no SQLite node in {data_dir}")
    source = open_database(data_dir)
    role = NodeSetting.get_or_none(NodeSetting.key == "node_role")
    if role is None or role.value != "central":
        source.close()
        raise CopyError(NOT_CENTRAL)
    target = connect_url(url)
    result = CopyResult()
    try:
        with source.atomic("EXCLUSIVE"):  # nobody writes the source while we copy and compare
            bind(target)
            create_schema(target)
            if NodeSetting.select().exists():
                raise CopyError(NOT_EMPTY)
            from sync.models import SyncClock

            with target.atomic("IMMEDIATE"):
                SyncClock.update(capture=0).where(SyncClock.id == 1).execute()
                for model in _models():
                    result.rows[model._meta.table_name] = _copy_table(model, source, target)
                SyncClock.update(capture=1).where(SyncClock.id == 1).execute()
            result.events_checked = _check(source, target, result.rows)
    finally:
        target.close()
        source.close()
        db_proxy.initialize(None)
    if switch:
        save_url(data_dir, url)
        result.backup = data_dir / (DB_FILENAME + BACKUP_SUFFIX)
        for suffix in ("", "-wal", "-shm"):
            path = data_dir / (DB_FILENAME + suffix)
            if path.exists():
                os.replace(path, data_dir / (DB_FILENAME + BACKUP_SUFFIX + suffix))
    return result
