"""Change capture and guards on PostgreSQL: the same `sync_change` rows as SQLite's triggers.

Why it exists: central may run on PostgreSQL, and its merge, apply and routing must not
know. So a PL/pgSQL trigger per replicated table writes, in the writing transaction,
exactly what `sync/outbox.py` writes on SQLite: origin = this node, origin_seq = next of
this node, an HLC tick, the table, the row id, `insert`/`update`, and as `data` a JSON
object of the changed columns (all of them on insert) with each value as SQLite holds it
(booleans 1/0, datetimes as peewee's text 'YYYY-MM-DD HH:MM:SS[.ffffff]'), in column order.

The clock: SQLite's trigger ticks `sync_clock.hlc` with an UPDATE before its INSERT; here
`siaga112_sync_log()` does the same UPDATE ... RETURNING (same rule as sync/clock.py:
max(hlc + 1, wall ms << 16)). That UPDATE also locks the clock row until commit, so
writers of replicated rows take their `sync_change` ids one transaction after another:
ids grow in commit order, which the peers' checkpoints (`id > acked`) rely on.
`sync_clock.capture = 0` (sync/apply.py, while applying received changes) switches
capture off, as on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable

from peewee import BooleanField, Database, DateTimeField, Field

from edge.models import REPLICATED_MODELS

COMMON_SQL = """
CREATE OR REPLACE FUNCTION siaga112_ts(ts timestamp) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN mod(extract(microseconds FROM ts)::bigint, 1000000) = 0
                THEN to_char(ts, 'YYYY-MM-DD HH24:MI:SS')
                ELSE to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') END
$$;

CREATE OR REPLACE FUNCTION siaga112_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$$;

CREATE OR REPLACE FUNCTION siaga112_sync_log(p_tbl text, p_pk text, p_op text, p_data text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_hlc bigint;
    v_me text;
BEGIN
    UPDATE sync_clock
       SET hlc = GREATEST(hlc + 1, (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) << 16)
     WHERE id = 1
    RETURNING hlc INTO v_hlc;
    SELECT value INTO v_me FROM node_setting WHERE key = 'node_id';
    INSERT INTO sync_change (origin, origin_seq, hlc, tbl, pk, op, data, via, applied_at)
    VALUES (v_me,
            (SELECT COALESCE(MAX(c.origin_seq), 0) + 1 FROM sync_change AS c WHERE c.origin = v_me),
            v_hlc, p_tbl, p_pk, p_op, p_data, '', timezone('UTC', clock_timestamp()));
END
$$;
"""

CAPTURE_TEMPLATE = """
CREATE OR REPLACE FUNCTION siaga112_capture_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_data text;
BEGIN
    IF (SELECT capture FROM sync_clock WHERE id = 1) IS DISTINCT FROM 1 THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(to_json(c.col)::text || ':' || c.new::text, ',' ORDER BY c.ord) INTO v_data
      FROM (VALUES {values}) AS c(ord, col, new, old)
     WHERE TG_OP = 'INSERT' OR c.new IS DISTINCT FROM c.old;
    IF v_data IS NOT NULL THEN
        PERFORM siaga112_sync_log('{table}', NEW."{pk}"::text, lower(TG_OP), '{{' || v_data || '}}');
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER {table}_sync_capture AFTER INSERT OR UPDATE ON "{table}"
    FOR EACH ROW EXECUTE FUNCTION siaga112_capture_{table}();
CREATE OR REPLACE TRIGGER {table}_sync_no_delete BEFORE DELETE ON "{table}"
    FOR EACH ROW EXECUTE FUNCTION siaga112_refuse('replicated rows are never deleted');
"""


def _json_value(field: Field, row: str) -> str:
    """SQL giving the column's value of NEW or OLD as jsonb, shaped as SQLite's trigger shapes it."""
    column = f'{row}."{field.column_name}"'
    if isinstance(field, BooleanField):
        column = f"({column})::int"
    elif isinstance(field, DateTimeField):
        column = f"siaga112_ts({column})"
    return f"COALESCE(to_jsonb({column}), 'null'::jsonb)"


def capture_sql(model, present: set[str] | None = None) -> str:
    """The capture function and triggers of `model` (only its columns in `present`, if given)."""
    fields = [f for f in model._meta.sorted_fields
              if not f.primary_key and (present is None or f.column_name in present)]
    values = ", ".join(
        f"({i}, '{f.column_name}', {_json_value(f, 'NEW')}, {_json_value(f, 'OLD')})" for i, f in enumerate(fields, 1))
    return CAPTURE_TEMPLATE.format(table=model._meta.table_name, pk=model._meta.primary_key.column_name,
                                   values=values)


def install_guards(db: Database, append_only_tables: Iterable[str]) -> None:
    """The shared functions, and UPDATE/DELETE/TRUNCATE refused on append-only tables."""
    db.execute_sql(COMMON_SQL)
    for table in append_only_tables:
        message = f"{table} is append-only"
        for op in ("update", "delete"):
            db.execute_sql(f'CREATE OR REPLACE TRIGGER {table}_no_{op} BEFORE {op.upper()} ON "{table}" '
                           f"FOR EACH ROW EXECUTE FUNCTION siaga112_refuse('{message}')")
        db.execute_sql(f'CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
                       f"FOR EACH STATEMENT EXECUTE FUNCTION siaga112_refuse('{message}')")


def install(db: Database) -> None:
    """Capture triggers of every replicated table (idempotent; call inside create_schema)."""
    db.execute_sql(COMMON_SQL)
    for model in REPLICATED_MODELS:
        db.execute_sql(capture_sql(model))


def reinstall(db: Database, models) -> None:
    """Capture triggers of `models` rebuilt from the columns their tables have now (CREATE OR REPLACE)."""
    db.execute_sql(COMMON_SQL)
    for model in models:
        present = {c.name for c in db.get_columns(model._meta.table_name)}
        db.execute_sql(capture_sql(model, present))


def uninstall(db: Database) -> None:
    for model in REPLICATED_MODELS:
        table = model._meta.table_name
        for name in ("sync_capture", "sync_no_delete"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS {table}_{name} ON "{table}"')
