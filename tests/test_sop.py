"""SOP step timers against the profile's standards: green / amber / red, ok / late."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from edge.models import Call, Dispatch, Incident
from edge.profile import load_profile
from edge.services.sop import TimerState, timers, worst_state

T0 = datetime(2026, 11, 25, 1, 0, 0)
BENGKALIS = load_profile("bengkalis")


def _case(rung=0, answered=60, recorded=200, sent=None, acks=(), closed=None, victims=0):
    """Unsaved model instances with times in seconds after T0 (no database needed)."""
    def at(s):
        return None if s is None else T0 + timedelta(seconds=s)

    call = Call(rung_at=at(rung), answered_at=at(answered))
    incident = Incident(recorded_at=at(recorded), closed_at=at(closed), victims_count=victims)
    dispatches = []
    for i, ack in enumerate(acks):
        d = Dispatch(sent_at=at(sent), acknowledged_at=at(ack), status="acknowledged" if ack else "sent")
        d.id = f"d{i}"
        dispatches.append(d)
    return incident, call, dispatches


def _by_key(step_timers):
    return {t.key: t for t in step_timers}


def test_done_steps_are_ok_or_late_against_bengkalis_standards():
    incident, call, dispatches = _case(rung=0, answered=60, recorded=60 + 181, sent=241 + 120, acks=(361 + 300,))
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=T0 + timedelta(hours=1)))
    assert t["receive"].state == TimerState.OK and t["receive"].elapsed_seconds == 60
    assert t["record"].state == TimerState.LATE  # 181 s > 3 min
    assert t["contact"].state == TimerState.OK  # exactly 2 min is within
    assert t["confirm"].state == TimerState.OK and t["confirm"].elapsed_seconds == 300


@pytest.mark.parametrize(
    ("seconds_waiting", "expected"),
    [(10, TimerState.GREEN), (0.75 * 300 - 1, TimerState.GREEN), (0.75 * 300, TimerState.AMBER),
     (299, TimerState.AMBER), (300, TimerState.AMBER), (301, TimerState.RED)],
)
def test_running_confirmation_turns_amber_then_red(seconds_waiting, expected):
    incident, call, dispatches = _case(sent=300, acks=(None,))
    now = T0 + timedelta(seconds=300 + seconds_waiting)
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=now))
    assert t["confirm"].state == expected
    assert worst_state(list(t.values())) in (expected, TimerState.RED)


def test_slowest_agency_counts_and_one_missing_ack_keeps_step_running():
    incident, call, dispatches = _case(sent=300, acks=(330, 700))
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=T0 + timedelta(hours=1)))
    assert t["confirm"].state == TimerState.LATE and t["confirm"].elapsed_seconds == 400
    incident, call, dispatches = _case(sent=300, acks=(330, None))
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=T0 + timedelta(seconds=400)))
    assert t["confirm"].state == TimerState.GREEN


def test_no_dispatch_yet_contact_step_is_running():
    incident, call, dispatches = _case(recorded=100)
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=T0 + timedelta(seconds=100 + 125)))
    assert t["contact"].state == TimerState.RED
    assert t["confirm"].state == TimerState.PENDING


def test_other_profile_other_standard():
    semarang = load_profile("semarang")
    incident, call, dispatches = _case(rung=0, answered=60)
    assert _by_key(timers(BENGKALIS, incident, call, dispatches))["receive"].state == TimerState.OK
    assert _by_key(timers(semarang, incident, call, dispatches))["receive"].state == TimerState.LATE


def test_closing_stops_running_clocks():
    incident, call, dispatches = _case(sent=300, acks=(None,), closed=400)
    t = _by_key(timers(BENGKALIS, incident, call, dispatches, now=T0 + timedelta(days=1)))
    assert t["confirm"].state == TimerState.OK and t["confirm"].elapsed_seconds == 100
