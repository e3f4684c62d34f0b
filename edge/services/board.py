"""The active-cases board: every open case with its SOP timers, most urgent first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from edge.enums import OPEN_INCIDENT_STATUSES
from edge.models import Agency, Call, Dispatch, Incident
from edge.profile import Profile
from edge.services.profiles import profile_for
from edge.services.sop import StepTimer, TimerState, timers, worst_state
from edge.timeutil import utcnow

_URGENCY = {TimerState.RED: 0, TimerState.AMBER: 1, TimerState.GREEN: 2, TimerState.OK: 3}


@dataclass
class CaseRow:
    incident: Incident
    call: Call | None
    dispatches: list[Dispatch]
    timers: list[StepTimer]
    worst: TimerState


def load_cases(incidents: list[Incident], now: datetime | None = None) -> list[CaseRow]:
    """Cases with their first call, dispatches (agency loaded) and timers, in 3 queries."""
    now = now or utcnow()
    ids = [i.id for i in incidents]
    calls: dict[str, Call] = {}
    dispatches: dict[str, list[Dispatch]] = defaultdict(list)
    if ids:
        for call in Call.select().where(Call.incident.in_(ids)).order_by(Call.rung_at.desc()):
            calls[call.incident_id] = call  # ends with the earliest call per incident
        for d in Dispatch.select(Dispatch, Agency).join(Agency).where(Dispatch.incident.in_(ids)):
            dispatches[d.incident_id].append(d)
    rows = []
    profiles: dict[str, Profile] = {}  # one read per profile, not one per case
    for inc in incidents:
        if inc.profile_id not in profiles:
            profiles[inc.profile_id] = profile_for(inc.profile_id)
        t = timers(profiles[inc.profile_id], inc, calls.get(inc.id), dispatches[inc.id], now)
        rows.append(CaseRow(inc, calls.get(inc.id), dispatches[inc.id], t, worst_state(t)))
    return rows


def open_cases(now: datetime | None = None) -> list[CaseRow]:
    incidents = list(
        Incident.select().where(Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES]))
        .order_by(Incident.recorded_at.desc()).limit(500)
    )
    rows = load_cases(incidents, now)
    rows.sort(key=lambda r: (_URGENCY.get(r.worst, 3), r.incident.priority, -r.incident.recorded_at.timestamp()))
    return rows
