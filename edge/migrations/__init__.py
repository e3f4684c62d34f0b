"""Versioned schema migrations, run by `edge.db.create_schema` on every start.

Why it exists: `create_tables(safe=True)` creates missing tables but never changes an existing
one, and the SQLite change-capture triggers are built from each replicated table's columns, so a
column added in a release would be missing on an upgraded node, or present but never replicated.
Every node opens its database through `create_schema` (web app, CLI, sync daemon, bridge), so
an upgraded node migrates itself the first time any of them starts. docs/migrations.md says how
to write a step and what a step must respect while old and new nodes of a regency sync together.

A step is a module `mNNNN_name.py` in this package with a docstring and `up(db, migrator)`
(peewee's `playhouse.migrate` SqliteMigrator / PostgresqlMigrator); optionally
`REPLICATED_TABLES` (the replicated tables whose columns it changes) and `backfill(db)`.
Each step runs in its own write transaction (SQLite BEGIN IMMEDIATE, PostgreSQL advisory lock)
that re-reads the version under the lock, so two processes starting at once never both run it;
in the same transaction: `up`, the change-capture triggers of `REPLICATED_TABLES` re-installed
with the new columns, the values of new columns that peers already sent replayed from
`sync_change` (sync.apply.replay_columns), `backfill` (its writes are captured like any write)
and the version recorded in `schema_migration`. A fresh database is created at the latest
version directly: the old steps never run on it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType

from peewee import Database, Field
from playhouse.migrate import SchemaMigrator

from edge.timeutil import utcnow

log = logging.getLogger("siaga112.migrations")

VERSION_TABLE = "schema_migration"
BASELINE = "baseline: created at this version"
STEP_NAME = re.compile(r"^m(\d{4})_[a-z0-9_]+$")
FRESH_MARKER = "node_setting"  # a table every release since the first has created


class MigrationError(RuntimeError):
    """The migration steps in this package are inconsistent (a gap or a duplicate version)."""


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    module: ModuleType

    @property
    def replicated_tables(self) -> tuple[str, ...]:
        return tuple(getattr(self.module, "REPLICATED_TABLES", ()))


def steps() -> list[Step]:
    """Every step of this package in version order (1, 2, 3 ... without gaps)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        match = STEP_NAME.match(info.name)
        if match:
            found.append(Step(int(match.group(1)), info.name, importlib.import_module(f"{__name__}.{info.name}")))
    found.sort(key=lambda s: s.version)
    if [s.version for s in found] != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must run 1, 2, 3 ... without gaps: {[s.name for s in found]}")
    return found


def latest_version() -> int:
    return len(steps())


def _ensure_version_table(db: Database) -> None:
    db.execute_sql(f'CREATE TABLE IF NOT EXISTS "{VERSION_TABLE}" (version INTEGER PRIMARY KEY NOT NULL, '
                   "name VARCHAR(255) NOT NULL, applied_at VARCHAR(32) NOT NULL)")


def _record(db: Database, version: int, name: str) -> None:
    from edge.dialect import sql

    db.execute_sql(sql(db, f'INSERT INTO "{VERSION_TABLE}" (version, name, applied_at) VALUES (?, ?, ?)'),
                   (version, name, utcnow().isoformat(" ", "seconds")))


def current_version(db: Database) -> int:
    """The schema version of `db`: 0 for a database of the release before migrations existed."""
    if not db.table_exists(VERSION_TABLE):
        return 0
    row = db.execute_sql(f'SELECT MAX(version) FROM "{VERSION_TABLE}"').fetchone()
    return int(row[0] or 0)


def columns(db: Database, table: str) -> list[str]:
    return [c.name for c in db.get_columns(table)]


def add_column(db: Database, migrator: SchemaMigrator, table: str, name: str, field: Field,
               default_sql: str) -> bool:
    """Add column `name` to `table` NOT NULL with the database default `default_sql` (an SQL literal,
    e.g. "''" or "0"), existing rows taking that value; False if the column is already there.
    One ALTER TABLE on both databases (peewee's add_column would rebuild a SQLite table to add
    NOT NULL, dropping its triggers); the database default also lets an insert from a node of
    the previous release, which does not name the column, succeed."""
    if name in columns(db, table):
        return False
    from peewee import SQL

    field = field.clone() if hasattr(field, "clone") else field
    field.null = False
    field.constraints = [*(field.constraints or []), SQL(f"DEFAULT {default_sql}")]
    migrator.alter_add_column(table, name, field, allow_not_null=True).run()
    return True


def _run_step(db: Database, step: Step) -> bool:
    """Run one step in its own write transaction; False if another process ran it first."""
    from sync import outbox
    from sync.apply import replay_columns

    with db.atomic("IMMEDIATE"):
        _ensure_version_table(db)
        if current_version(db) >= step.version:
            return False
        before = {t: set(columns(db, t)) for t in step.replicated_tables}
        step.module.up(db, SchemaMigrator.from_database(db))
        if step.replicated_tables:
            outbox.reinstall(db, step.replicated_tables)
            for table, old in before.items():
                added = [c for c in columns(db, table) if c not in old]
                if added:
                    replayed = replay_columns(table, added)
                    if replayed:
                        log.info("migration %s: %d value(s) of %s.%s received before the upgrade, now applied",
                                 step.name, replayed, table, ",".join(added))
        backfill = getattr(step.module, "backfill", None)
        if backfill is not None:
            backfill(db)
        _record(db, step.version, step.name)
    log.info("schema migrated to version %d (%s)", step.version, step.name)
    return True


def migrate(db: Database) -> list[str]:
    """Bring `db` to the latest schema version; the names of the steps this call ran.

    A database without tables is only stamped with the latest version (create_schema then
    creates the tables as the models describe them). Needs the models bound to `db`."""
    all_steps = steps()
    with db.atomic("IMMEDIATE"):
        _ensure_version_table(db)
        if current_version(db) == 0 and not db.table_exists(FRESH_MARKER):
            _record(db, len(all_steps), BASELINE)
            return []
    ran = []
    for step in all_steps:
        if step.version > current_version(db) and _run_step(db, step):
            ran.append(step.name)
    return ran
