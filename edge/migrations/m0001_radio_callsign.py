"""Add `agency.radio_callsign`: the AX.25 callsign of the agency station's radio.

Until this release the bridge read the station's callsign from `agency.station_node` (an
interim, issue 4). The column is added NOT NULL DEFAULT '' and filled from `station_node`
where that is a valid callsign (edge/callsign.py, the bridge's own rule), normalised
("damkr1" -> "DAMKR1"). `station_node` is left as it is: it means the station's node id again,
and nodes of the previous release still read their callsign from it until they are upgraded.

The fill runs as `backfill`, after the capture triggers know the new column, so it replicates:
a node created at this version, which never ran this step, receives the callsigns too. A row
that already holds a callsign (replayed from a peer that was upgraded first) is left alone.
"""

from __future__ import annotations

from peewee import CharField, Database
from playhouse.migrate import SchemaMigrator

from edge.callsign import normalise_callsign
from edge.dialect import sql

REPLICATED_TABLES = ("agency",)


def up(db: Database, migrator: SchemaMigrator) -> None:
    from edge.migrations import add_column

    add_column(db, migrator, "agency", "radio_callsign", CharField(max_length=255), "''")


def backfill(db: Database) -> None:
    rows = db.execute_sql("SELECT id, station_node FROM agency WHERE station_node <> '' AND radio_callsign = ''")
    for agency_id, station_node in list(rows):
        call = normalise_callsign(station_node)
        if call:
            db.execute_sql(sql(db, "UPDATE agency SET radio_callsign = ? WHERE id = ?"), (call, agency_id))
