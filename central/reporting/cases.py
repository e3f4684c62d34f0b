"""Per-case timings of a period: SOP step durations and the response time, measured in Python.

Why this exists: a step's duration spans two rows (the first call, the case, each agency's
dispatch), and the steps are defined once, in edge.services.sop.step_bounds; compliance
against the profile's standards, medians and 90th percentiles come from
edge.services.sop_stats, exactly as on the posko's shift report. Only the columns those
need are fetched, in three queries whose case list is a subquery (no id list, so no
bound-parameter limit however many cases a year holds), into small row objects that carry
the same attribute names as the models step_bounds was written for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from peewee import Expression, Select

from central.reporting.model import Durations
from edge.models import Call, Dispatch, Incident, db_proxy
from edge.services.sop_stats import median, percentile


def _dt(value: datetime | str | None) -> datetime | None:
    """A timestamp as the driver gives it: PostgreSQL a datetime, SQLite peewee's ISO text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass(slots=True)
class CaseRow:
    """The Incident columns step_bounds and the compliance read (same attribute names)."""

    id: str
    node: str
    profile_id: str
    recorded_at: datetime
    closed_at: datetime | None
    victims_count: int


@dataclass(slots=True)
class CallRow:
    incident_id: str
    rung_at: datetime
    answered_at: datetime | None


@dataclass(slots=True)
class DispatchRow:
    incident_id: str
    status: str
    sent_at: datetime
    acknowledged_at: datetime | None
    on_scene_at: datetime | None
    hospital_at: datetime | None
    finished_at: datetime | None


@dataclass
class CaseTimes:
    incident: CaseRow
    call: CallRow | None  # the first call about the case
    dispatches: list[DispatchRow]

    @property
    def as_tuple(self) -> tuple:
        return self.incident, self.call, self.dispatches

    @property
    def response_seconds(self) -> float | None:
        """From the first call ringing (or the case being recorded) to the first agency on scene."""
        on_scene = [d.on_scene_at for d in self.dispatches if d.on_scene_at]
        if not on_scene:
            return None
        start = self.call.rung_at if self.call is not None else self.incident.recorded_at
        return (min(on_scene) - start).total_seconds()


def _rows(query: Select) -> Iterable[tuple]:
    """Raw rows of a peewee query: a year holds some 60,000 of them, and building a model
    instance per row (with peewee's per-value conversion) would take most of the report's time."""
    return db_proxy.obj.execute(query)


def load_case_times(where: Expression) -> list[CaseTimes]:
    """The cases recorded matching `where` (on Incident), with their first call and dispatches."""
    ids = Incident.select(Incident.id).where(where)
    incidents = [CaseRow(i, n, p, _dt(rec), _dt(closed), v or 0) for i, n, p, rec, closed, v in _rows(
        Incident.select(Incident.id, Incident.node, Incident.profile_id, Incident.recorded_at, Incident.closed_at,
                        Incident.victims_count).where(where))]
    first_call: dict[str, CallRow] = {}
    for incident_id, rung, answered in _rows(Call.select(Call.incident, Call.rung_at, Call.answered_at)
                                             .where(Call.incident.in_(ids))):
        rung_at = _dt(rung)
        known = first_call.get(incident_id)
        if known is None or rung_at < known.rung_at:
            first_call[incident_id] = CallRow(incident_id, rung_at, _dt(answered))
    dispatches: dict[str, list[DispatchRow]] = defaultdict(list)
    for incident_id, status, *stamps in _rows(
            Dispatch.select(Dispatch.incident, Dispatch.status, Dispatch.sent_at, Dispatch.acknowledged_at,
                            Dispatch.on_scene_at, Dispatch.hospital_at, Dispatch.finished_at)
            .where(Dispatch.incident.in_(ids))):
        dispatches[incident_id].append(DispatchRow(incident_id, status, *(_dt(s) for s in stamps)))
    return [CaseTimes(inc, first_call.get(inc.id), dispatches[inc.id]) for inc in incidents]


def durations(values: Iterable[float | None]) -> Durations:
    measured = [v for v in values if v is not None]
    return Durations(len(measured), median(measured), percentile(measured, 90))
