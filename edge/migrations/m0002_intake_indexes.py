"""Two indexes for the intake path: `incident (incident_type, recorded_at)` and `dispatch (code, status)`.

Why: on a posko a year into service (100,000 cases, 240,000 dispatches) every intake and every
dispatch paid for reading the archive:

- related open cases (edge.services.incidents.related_open_incidents, on each new case) look for
  the same type in the last hour; with single-column indexes SQLite reads every case of that type
  ever recorded (about 8,000) and sorts them. With `incident_incident_type_recorded_at` it reads
  only the last hour's cases of that type.
- a new dispatch's 4-digit code must not be quoted by an unfinished dispatch of an open case
  (codes_taken); `dispatch_code_status` answers from the index which dispatches holding a code
  are unfinished, instead of reading each dispatch row that ever held it.

An index changes no column, so no capture trigger is rebuilt and nothing replicates: each node
builds them from its own rows. The models declare the same indexes under the same names, so a
node created at this version gets them from `create_tables`. `IF NOT EXISTS` on both databases.
"""

from __future__ import annotations

from peewee import Database
from playhouse.migrate import SchemaMigrator

INDEXES = {
    "incident_incident_type_recorded_at": ("incident", ("incident_type", "recorded_at")),
    "dispatch_code_status": ("dispatch", ("code", "status")),
}


def up(db: Database, migrator: SchemaMigrator) -> None:
    for name, (table, cols) in INDEXES.items():
        columns = ", ".join(f'"{c}"' for c in cols)
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})')
