"""The closed-case feed: every closed case once, in the order it became closed at this node.

Kominfo's data store pulls "data per kasus" (Singkawang SOP step 8) with a cursor. Ordering by
`closed_at` would lose cases: an island posko that was offline for three days delivers cases
closed long before ones central already handed out. So a case's feed position is the local
change number (`sync_change.id`) at which its closing event (`incident.closed`) was written
into this node's database, whether it was closed here or arrived by sync. Positions only grow,
and a case has exactly one (its first closing event), so a client that stores `next_cursor`
and asks again gets each case exactly once, in order, and none is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from edge.enums import IncidentStatus
from edge.models import Event, Incident
from sync.models import SyncChange

CLOSED_KIND = "incident.closed"
MAX_LIMIT = 500


@dataclass(frozen=True)
class FeedPage:
    items: list[tuple[int, Incident]]  # (position, case), ascending positions
    next_cursor: int
    has_more: bool


def _positions(after: int, limit: int):
    pos = fn.MIN(SyncChange.id).alias("pos")
    return (SyncChange.select(Event.incident.alias("incident_id"), pos)
            .join(Event, on=(Event.id == SyncChange.pk))
            .where((SyncChange.tbl == "event") & (Event.kind == CLOSED_KIND))
            .group_by(Event.incident)
            .having(fn.MIN(SyncChange.id) > after)
            .order_by(fn.MIN(SyncChange.id))
            .limit(limit + 1)
            .tuples())


def closed_feed(after: int = 0, limit: int = 100) -> FeedPage:
    """Closed cases after position `after` (0: from the start), at most `limit` of them."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(_positions(after, limit))
    has_more = len(rows) > limit
    rows = rows[:limit]
    cases = {i.id: i for i in Incident.select().where(Incident.id.in_([r[0] for r in rows]))} if rows else {}
    items: list[tuple[int, Incident]] = []
    for incident_id, position in rows:
        inc = cases.get(incident_id)
        if inc is None or inc.status != IncidentStatus.CLOSED:
            has_more = True  # not applied yet: stop before it so it is not skipped
            break
        items.append((position, inc))
    next_cursor = items[-1][0] if items else after
    return FeedPage(items, next_cursor, has_more)
