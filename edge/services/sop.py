"""SOP step timers: how long each step of the procedure took against the profile's standard.

A running step is green below `amber_ratio` of its standard, amber up to the standard
and red past it; a finished step is "ok" (green) or "late" (red). The board, the
incident page, the shift report and central's compliance figures all use this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from edge.enums import DispatchStatus
from edge.models import Call, Dispatch, Incident
from edge.profile import Profile
from edge.timeutil import utcnow


class TimerState(StrEnum):
    PENDING = "pending"  # not started yet
    GREEN = "green"  # running, well within the standard
    AMBER = "amber"  # running, close to the standard
    RED = "red"  # running, past the standard
    OK = "ok"  # done within the standard
    LATE = "late"  # done, but past the standard


@dataclass(frozen=True)
class StepTimer:
    key: str
    step: int
    name_id: str
    name_en: str
    standard_seconds: int
    start: datetime | None
    end: datetime | None
    elapsed_seconds: float | None
    state: TimerState

    @property
    def colour(self) -> str:
        return {"ok": "green", "late": "red"}.get(self.state.value, self.state.value)

    @property
    def done(self) -> bool:
        return self.state in (TimerState.OK, TimerState.LATE)


def _state(start: datetime | None, end: datetime | None, standard: int, amber_ratio: float,
           now: datetime) -> tuple[float | None, TimerState]:
    if start is None:
        return None, TimerState.PENDING
    if end is not None:
        elapsed = (end - start).total_seconds()
        return elapsed, TimerState.OK if elapsed <= standard else TimerState.LATE
    elapsed = (now - start).total_seconds()
    if elapsed > standard:
        return elapsed, TimerState.RED
    if elapsed >= standard * amber_ratio:
        return elapsed, TimerState.AMBER
    return elapsed, TimerState.GREEN


def step_bounds(incident: Incident, call: Call | None, dispatches: list[Dispatch]
                ) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Start and end instant of each timed step, from the case's own timestamps."""
    sent = [d.sent_at for d in dispatches]
    first_sent = min(sent) if sent else None
    bounds: dict[str, tuple[datetime | None, datetime | None]] = {}
    if call is not None:
        bounds["receive"] = (call.rung_at, call.answered_at)
        bounds["record"] = (call.answered_at, incident.recorded_at)
    bounds["contact"] = (incident.recorded_at, first_sent)
    # Confirmation: the slowest agency counts; running while any agency has not confirmed.
    if dispatches:
        acks = [d.acknowledged_at for d in dispatches]
        if all(a is not None for a in acks):
            worst = max(dispatches, key=lambda d: (d.acknowledged_at - d.sent_at))
            bounds["confirm"] = (worst.sent_at, worst.acknowledged_at)
        else:
            waiting = [d for d in dispatches if d.acknowledged_at is None]
            bounds["confirm"] = (min(d.sent_at for d in waiting), None)
    else:
        bounds["confirm"] = (None, None)
    on_scene = [d.on_scene_at for d in dispatches if d.on_scene_at]
    hospital = [d.hospital_at for d in dispatches if d.hospital_at]
    if incident.victims_count and on_scene:
        bounds["hospital"] = (min(on_scene), min(hospital) if hospital else None)
    finished = [d.finished_at for d in dispatches]
    all_finished = dispatches and all(
        DispatchStatus(d.status) == DispatchStatus.FINISHED and d.finished_at for d in dispatches
    )
    if all_finished:
        bounds["close"] = (max(finished), incident.closed_at)
    elif incident.closed_at:
        bounds["close"] = (None, None)
    return bounds


def timers(profile: Profile, incident: Incident, call: Call | None, dispatches: list[Dispatch],
           now: datetime | None = None) -> list[StepTimer]:
    """One timer per step that the profile gives a standard for, in procedure order."""
    now = now or utcnow()
    bounds = step_bounds(incident, call, dispatches)
    # A closed case stops every clock.
    stop = incident.closed_at
    out = []
    for step in profile.sop_steps:
        start, end = bounds.get(step.key, (None, None))
        if start is None and step.key not in bounds:
            continue
        if end is None and stop is not None and start is not None:
            end = stop
        elapsed, state = _state(start, end, step.standard_seconds, profile.amber_ratio, now)
        out.append(StepTimer(step.key, step.step, step.name_id, step.name_en, step.standard_seconds,
                             start, end, elapsed, state))
    return out


def worst_state(step_timers: list[StepTimer]) -> TimerState:
    """The most urgent running state of a case (for sorting and colouring the board)."""
    order = [TimerState.RED, TimerState.AMBER, TimerState.GREEN]
    for state in order:
        if any(t.state == state for t in step_timers):
            return state
    return TimerState.OK
