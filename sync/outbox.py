"""Change capture: SQLite triggers write every change of a replicated row to `sync_change`
inside the same transaction, so no process (web app, CLI, sync daemon, a bridge) can
commit a record without its change or the reverse. On PostgreSQL (central given a
database URL) `install` puts the equivalent PL/pgSQL triggers of sync/outbox_pg.py instead.

Built on peewee's `playhouse.sqlite_changelog.ChangeLog` (its column-array trick to
diff OLD and NEW in SQL); our template adds the hybrid logical clock tick, the
per-origin sequence and keeps only the columns that changed, with their JSON types.
"""

from __future__ import annotations

import json

from peewee import Database
from playhouse.sqlite_changelog import ChangeLog

from edge.dialect import is_postgres, portable
from edge.models import REPLICATED_MODELS
from sync.clock import SQL_TICK
from sync.merge import Change
from sync.models import SyncChange, SyncClock


class SyncChangeLog(ChangeLog):
    base_model = SyncChange

    template = """CREATE TRIGGER IF NOT EXISTS %(table)s_sync_%(action)s
    AFTER %(action)s ON %(table)s
    WHEN (SELECT capture FROM sync_clock WHERE id = 1) = 1
    BEGIN
        UPDATE sync_clock SET hlc = """ + SQL_TICK + """ WHERE id = 1;
        INSERT INTO sync_change (origin, origin_seq, hlc, tbl, pk, op, data, via, applied_at)
        SELECT (SELECT value FROM node_setting WHERE key = 'node_id'),
               (SELECT COALESCE(MAX(c.origin_seq), 0) + 1 FROM sync_change AS c
                 WHERE c.origin = (SELECT value FROM node_setting WHERE key = 'node_id')),
               (SELECT hlc FROM sync_clock WHERE id = 1),
               '%(table)s', NEW."%(primary_key)s", '%(op)s', changes.data, '',
               strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')
        FROM (SELECT json_group_object(value ->> '$[0]', value -> '$[2]') AS data
              FROM json_each(json_array(%(column_array)s))
              WHERE %(filter)s) AS changes
        WHERE changes.data != '{}';
    END"""

    def trigger_sql(self, model, action, skip_fields=None):
        if action == "DELETE":
            return (f'CREATE TRIGGER IF NOT EXISTS {model._meta.table_name}_sync_no_delete '
                    f'BEFORE DELETE ON {model._meta.table_name} '
                    "BEGIN SELECT RAISE(ABORT, 'replicated rows are never deleted'); END")
        use_old = action == "UPDATE"
        return self.template % {
            "table": model._meta.table_name,
            "action": action,
            "op": action.lower(),
            "primary_key": model._meta.primary_key.column_name,
            "column_array": self._build_column_array(model, use_old, True, skip_fields),
            "filter": "(value -> '$[1]') IS NOT (value -> '$[2]')" if use_old else "1",
        }


def install(db: Database) -> None:
    """Create the clock row and the capture triggers (idempotent): SQLite's here, PostgreSQL's
    equivalent in sync/outbox_pg.py."""
    SyncClock.insert(id=1, hlc=0, capture=1).on_conflict_ignore().execute()
    if is_postgres(db):
        from sync import outbox_pg

        outbox_pg.install(db)
        return
    changelog = SyncChangeLog(db, table_name="sync_change")
    for model in REPLICATED_MODELS:
        for action in ("INSERT", "UPDATE", "DELETE"):
            db.execute_sql(changelog.trigger_sql(model, action))


def reinstall(db: Database, tables) -> None:
    """Rebuild the capture triggers of replicated `tables` from their models' columns that the
    database has now (a schema migration changed them; a later step may not have added the
    rest yet): dropped and created again on SQLite, whose triggers are `IF NOT EXISTS`;
    CREATE OR REPLACE on PostgreSQL."""
    wanted = set(tables)
    models = [m for m in REPLICATED_MODELS if m._meta.table_name in wanted]
    if is_postgres(db):
        from sync import outbox_pg

        outbox_pg.reinstall(db, models)
        return
    changelog = SyncChangeLog(db, table_name="sync_change")
    for model in models:
        table = model._meta.table_name
        present = {c.name for c in db.get_columns(table)}
        missing = [f.name for f in model._meta.sorted_fields if f.column_name not in present]
        for name in ("insert", "update", "no_delete"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_sync_{name}")
        for action in ("INSERT", "UPDATE", "DELETE"):
            db.execute_sql(changelog.trigger_sql(model, action, skip_fields=missing))


def uninstall(db: Database) -> None:
    """Drop the capture triggers (used by schema migrations that rebuild a table)."""
    if is_postgres(db):
        from sync import outbox_pg

        outbox_pg.uninstall(db)
        return
    for model in REPLICATED_MODELS:
        table = model._meta.table_name
        for name in ("insert", "update", "no_delete"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_sync_{name}")


def read_changes(after_id: int, limit: int = 500) -> list[tuple[int, Change, str]]:
    """Logged changes with local id > after_id, oldest first, as (id, change, via)."""
    rows = (SyncChange.select(SyncChange.id, SyncChange.origin, SyncChange.origin_seq, SyncChange.hlc,
                              SyncChange.tbl, SyncChange.pk, SyncChange.op, SyncChange.data, SyncChange.via)
            .where(SyncChange.id > after_id).order_by(SyncChange.id).limit(limit).tuples())
    return [(row[0], Change.from_row(*row[1:8]), row[8]) for row in rows]


def last_change_id() -> int:
    row = SyncChange.select(SyncChange.id).order_by(SyncChange.id.desc()).first()
    return row.id if row else 0


CASE_TABLES = ("incident", "call", "dispatch", "event")


def content_hash(tables: tuple[str, ...] | None = None) -> str:
    """SHA-256 over the rows (sorted by id) of every replicated table, or of `tables`:
    equal on nodes that hold the same records, whether on SQLite or PostgreSQL (values are
    compared as SQLite holds them, ids in byte order)."""
    import hashlib

    db = SyncChange._meta.database
    order = 'id COLLATE "C"' if is_postgres(db) else "id"
    digest = hashlib.sha256()
    for model in REPLICATED_MODELS:
        if tables is not None and model._meta.table_name not in tables:
            continue
        table = model._meta.table_name
        columns = sorted(f.column_name for f in model._meta.sorted_fields)
        cursor = db.execute_sql(f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY {order}')
        digest.update(table.encode())
        for row in cursor:
            digest.update(json.dumps([portable(v) for v in row], default=str, ensure_ascii=False).encode())
    return digest.hexdigest()
