"""The per-case record: one closed case as one JSON document, the source of every export.

The Singkawang SOP's last step has the posko send "data per kasus" to the central data
store; this is that document. It reuses the API's record shapes (edge.api.serialize), so a
case reads the same in the API, the feed and the files, and it goes through the caller-privacy
view (edge.services.privacy) once, here, before any format sees it: CAP and EIDO are then
pure functions of a record that is already safe to hand out.

Shape (schema "siaga112-case/1"): `case_no`, `id`, `node`, `privacy` (full | pseudonymised),
`incident`, `calls`, `dispatches`, `sop` (timers), `timeline` (events), `generated_at`,
`generated_by`. docs/exports.md describes each part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from edge.api import serialize as ser
from edge.enums import IncidentStatus
from edge.models import Agency, Call, Dispatch, Event, Incident
from edge.profile import Profile, ProfileError
from edge.services import node_id
from edge.services.errors import NotFound
from edge.services.privacy import Scrubber
from edge.services.profiles import profile_for
from edge.services.sop import timers
from edge.timeutil import iso_utc, utcnow

SCHEMA = "siaga112-case/1"
BATCH = 200  # cases loaded per round of queries


def closed_in(start_utc: datetime, end_utc: datetime) -> Iterator[Incident]:
    """Closed cases whose closing time is in [start, end), oldest first."""
    query = (Incident.select()
             .where((Incident.status == IncidentStatus.CLOSED) & (Incident.closed_at >= start_utc)
                    & (Incident.closed_at < end_utc))
             .order_by(Incident.closed_at, Incident.id))
    yield from query.iterator()


def closed_case(incident_id: str) -> Incident:
    inc = Incident.get_or_none((Incident.id == incident_id) | (Incident.case_no == incident_id))
    if inc is None or inc.status != IncidentStatus.CLOSED:
        raise NotFound("Kasus tertutup tidak ditemukan")
    return inc


def _profile(profile_id: str, cache: dict[str, Profile | None]) -> Profile | None:
    if profile_id not in cache:
        try:
            cache[profile_id] = profile_for(profile_id)
        except (NotFound, ProfileError):  # a case of an unknown profile still exports, without names and SOP
            cache[profile_id] = None
    return cache[profile_id]


def records(incidents: Iterable[Incident], scrubber: Scrubber) -> Iterator[dict[str, Any]]:
    """One record per incident, loaded in batches (a few queries per BATCH cases)."""
    batch: list[Incident] = []
    for inc in incidents:
        batch.append(inc)
        if len(batch) == BATCH:
            yield from _records(batch, scrubber)
            batch = []
    if batch:
        yield from _records(batch, scrubber)


def record(incident: Incident, scrubber: Scrubber) -> dict[str, Any]:
    return next(_records([incident], scrubber))


def _records(incidents: list[Incident], scrubber: Scrubber) -> Iterator[dict[str, Any]]:
    ids = [i.id for i in incidents]
    calls: dict[str, list[Call]] = defaultdict(list)
    for call in Call.select().where(Call.incident.in_(ids)).order_by(Call.rung_at, Call.id):
        calls[call.incident_id].append(call)
    dispatches: dict[str, list[Dispatch]] = defaultdict(list)
    for d in (Dispatch.select(Dispatch, Agency).join(Agency).where(Dispatch.incident.in_(ids))
              .order_by(Dispatch.sent_at, Dispatch.id)):
        dispatches[d.incident_id].append(d)
    events: dict[str, list[Event]] = defaultdict(list)
    for event in Event.select().where(Event.incident.in_(ids)).order_by(Event.at, Event.node, Event.seq):
        events[event.incident_id].append(event)
    profiles: dict[str, Profile | None] = {}
    here, now = node_id(), iso_utc(utcnow())
    for inc in incidents:
        profile = _profile(inc.profile_id, profiles)
        first_call = calls[inc.id][0] if calls[inc.id] else None
        # A closed case's clocks stopped when it closed (edge.services.sop), so `now` does not matter.
        steps = timers(profile, inc, first_call, dispatches[inc.id], inc.closed_at) if profile else []
        doc = {
            "schema": SCHEMA,
            "case_no": inc.case_no,
            "id": inc.id,
            "node": inc.node,
            "privacy": "full" if not scrubber.hides else scrubber.view.value,
            "incident": ser.incident(inc, profile),
            "calls": [ser.call(c) for c in calls[inc.id]],
            "dispatches": [ser.dispatch(d) for d in dispatches[inc.id]],
            "sop": [ser.timer(t) for t in steps],
            "timeline": [ser.event(e) for e in events[inc.id]],
            "generated_at": now,
            "generated_by": here,
        }
        yield scrubber.record(doc)
