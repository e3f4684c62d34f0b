"""SOP compliance figures over many cases: share within each time standard, median, 90th percentile.

Why this exists: a posko's shift report (edge.services.reports) and central's regency reports
(central.reporting) measure the same thing, the steps of the procedure against the routing
profile's time standards, over a shift or over a year. Both call `compliance()` here, so a
case counts the same way on both (step bounds from `edge.services.sop.step_bounds`, each case
against the standards of the profile it was recorded under, nearest-rank percentiles).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.models import Call, Dispatch, Incident
from edge.profile import Profile
from edge.services.profiles import active_profile, profile_for
from edge.services.sop import step_bounds


@dataclass(frozen=True)
class StepCompliance:
    key: str
    step: int
    name_id: str
    name_en: str
    standard_seconds: int
    measured: int  # cases where the step has both its start and its end
    within: int  # of those, done within the standard
    running: int  # started but not (yet) ended
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def share(self) -> float | None:
        """Fraction (0..1) of measured cases within the standard; None when nothing was measured."""
        return self.within / self.measured if self.measured else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def case_step_durations(incident: Incident, call: Call | None, dispatches: list[Dispatch]
                        ) -> dict[str, float | None]:
    """Seconds each step of a case took, from its own timestamps; None while it has no end.

    Steps that never started are absent. Unlike the board's timers, closing a case does
    not stop a step's clock here: a report counts only steps whose end was recorded.
    """
    out: dict[str, float | None] = {}
    for key, (start, end) in step_bounds(incident, call, dispatches).items():
        if start is None:
            continue
        out[key] = (end - start).total_seconds() if end is not None else None
    return out


CaseData = tuple[Incident, Call | None, list[Dispatch]]


def compliance(cases: Iterable[CaseData], profile: Profile | None = None) -> list[StepCompliance]:
    """One row per step of `profile` (default: the active one) over these cases."""
    profile = profile or active_profile()
    profiles: dict[str, Profile] = {}  # one lookup per profile id, not one per case

    def own_profile(profile_id: str) -> Profile:
        if profile_id not in profiles:
            profiles[profile_id] = profile_for(profile_id)
        return profiles[profile_id]

    # Each case is measured against the standards of the profile it was recorded under.
    per_case = [(case_step_durations(inc, call, dispatches), own_profile(inc.profile_id))
                for inc, call, dispatches in cases]
    out = []
    for step in profile.sop_steps:
        done = [(d[step.key], p.sop_step(step.key)) for d, p in per_case if d.get(step.key) is not None]
        running = sum(1 for d, _p in per_case if step.key in d and d[step.key] is None)
        within = sum(1 for seconds, own in done if seconds <= (own or step).standard_seconds)
        done_seconds = [seconds for seconds, _own in done]
        out.append(StepCompliance(
            key=step.key, step=step.step, name_id=step.name_id, name_en=step.name_en,
            standard_seconds=step.standard_seconds, measured=len(done),
            within=within, running=running,
            median_seconds=median(done_seconds),
            p90_seconds=percentile(done_seconds, 90),
        ))
    return out
