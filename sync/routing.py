"""Who gets what: the routing rules of the star around central, as one function.

- posko / agency station -> central: every change it holds, except what came from central;
- central -> posko: agencies, users, routing profiles; the cases it recorded or whose
  kecamatan is in its areas, with their dispatches and timeline;
- central -> agency station: agencies and routing profiles, its own agency's users, its own
  agency's dispatches, their incidents and the timeline entries that are not about another
  agency. Never another agency's dispatch. Calls (caller data) go only to central.

A change is never sent back to its origin nor to the peer it came from. Rules look at the
row's current state in this node's database (`Lookup`), which holds everything it forwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edge.dialect import sql
from edge.ids import stable_id
from edge.models import db_proxy
from sync.merge import Change

EVERYONE = ("agency", "routing_profile")


@dataclass(frozen=True)
class Peer:
    node: str
    role: str  # posko, agency, central
    agency: str | None = None
    areas: tuple[str, ...] = ()

    @classmethod
    def from_entry(cls, node: str, entry: dict) -> Peer:
        return cls(node, entry.get("role", ""), entry.get("agency"), tuple(entry.get("areas") or ()))

    @property
    def agency_id(self) -> str | None:
        return stable_id("agency", self.agency) if self.agency else None


@dataclass
class Lookup:
    """Current rows by (table, id), cached for one batch."""

    cache: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)

    def row(self, table: str, pk: str | None) -> dict[str, Any] | None:
        if not pk:
            return None
        key = (table, pk)
        if key not in self.cache:
            cursor = db_proxy.obj.execute_sql(sql(db_proxy, f'SELECT * FROM "{table}" WHERE id = ?'), (pk,))
            values = cursor.fetchone()
            self.cache[key] = dict(zip([d[0] for d in cursor.description], values, strict=True)) if values else None
        return self.cache[key]

    def dispatched_to(self, incident_id: str | None, agency_id: str | None) -> bool:
        if not incident_id or not agency_id:
            return False
        key = ("dispatched", f"{incident_id}/{agency_id}")
        if key not in self.cache:
            query = sql(db_proxy, "SELECT 1 FROM dispatch WHERE incident_id = ? AND agency_id = ?")
            found = db_proxy.obj.execute_sql(query, (incident_id, agency_id)).fetchone()
            self.cache[key] = {} if found else None
        return self.cache[key] is not None


def _incident_of(change: Change, lookup: Lookup) -> str | None:
    if change.tbl == "incident":
        return change.pk
    row = lookup.row(change.tbl, change.pk)
    return row.get("incident_id") if row else change.data.get("incident_id")


def _posko_concerned(incident_id: str | None, peer: Peer, lookup: Lookup) -> bool:
    incident = lookup.row("incident", incident_id)
    if incident is None:
        return False
    return incident["node"] == peer.node or (incident.get("kecamatan") or "") in peer.areas


def routes_to(change: Change, via: str, me: Peer, peer: Peer, lookup: Lookup) -> bool:
    """Does `change` (received from `via`, '' if local) go to `peer`?"""
    if peer.node in (change.origin, via):
        return False
    if peer.role == "central":
        return True
    if me.role != "central":
        return False  # star: edge nodes talk only to central
    if change.tbl in EVERYONE:
        return True
    if change.tbl == "user":
        if peer.role == "posko":
            return True
        row = lookup.row("user", change.pk)
        return bool(row) and row.get("agency_id") == peer.agency_id
    if change.tbl == "call":
        return False
    incident_id = _incident_of(change, lookup)
    if peer.role == "posko":
        return _posko_concerned(incident_id, peer, lookup)
    if peer.role == "agency":
        if change.tbl == "dispatch":
            row = lookup.row("dispatch", change.pk)
            return bool(row) and row.get("agency_id") == peer.agency_id
        if not lookup.dispatched_to(incident_id, peer.agency_id):
            return False
        if change.tbl == "event":
            row = lookup.row("event", change.pk) or {}
            detail = json.loads(row.get("detail") or "{}")
            return detail.get("agency") in (None, peer.agency)
        return change.tbl == "incident"
    return False


def backfill(change: Change, peer: Peer, me: Peer) -> list[tuple[int, Change]]:
    """Earlier changes a peer needs before this one makes sense: when central first sends an
    agency station a dispatch, the incident's own changes and its relevant timeline."""
    if not (me.role == "central" and peer.role == "agency" and change.tbl == "dispatch" and change.op == "insert"):
        return []
    from sync.models import SyncChange

    incident_id = change.data.get("incident_id")
    if not incident_id:
        return []
    event_ids = [r[0] for r in db_proxy.obj.execute_sql(
        sql(db_proxy, "SELECT id, detail FROM event WHERE incident_id = ?"), (incident_id,)).fetchall()
        if json.loads(r[1] or "{}").get("agency") in (None, peer.agency)]
    query = SyncChange.select().where(
        ((SyncChange.tbl == "incident") & (SyncChange.pk == incident_id))
        | ((SyncChange.tbl == "event") & (SyncChange.pk.in_(event_ids or [""]))))
    return [(row.id, Change.from_row(row.origin, row.origin_seq, row.hlc, row.tbl, row.pk, row.op, row.data))
            for row in query.order_by(SyncChange.id) if row.origin != peer.node]
