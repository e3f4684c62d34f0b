"""Build a regency report: every figure for one period, for the regency or one posko.

Why this exists: the page, the exports and bench/report.py all ask for "the report of
this period"; this module runs the queries once and returns a RegencyReport.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from central.reporting import queries as q
from central.reporting.cases import durations, load_case_times
from central.reporting.model import PoskoRow, RegencyReport
from central.reporting.periods import ReportPeriod
from edge.services import figures
from edge.services.profiles import active_profile
from edge.services.sop_stats import compliance
from edge.timeutil import utcnow

OPEN_CASES_LISTED = 50


def build_report(period: ReportPeriod, posko: str | None = None, top_n: int = figures.TOP_CALLERS,
                 now: datetime | None = None) -> RegencyReport:
    """The report of `period` for `posko` (a node id), or for the whole regency when None."""
    profile = active_profile()
    calls = q.calls_where(period, posko)
    incidents = q.incidents_where(period, posko)
    dispatches = q.dispatches_where(period, posko)
    still_open = q.open_where(period, posko)
    cases = load_case_times(incidents)
    return RegencyReport(
        period=period,
        posko=posko,
        poskos=q.poskos(),
        profile_id=profile.id,
        regency=profile.name,
        generated_at=now or utcnow(),
        calls_by_type=figures.calls_by_type(calls),
        calls_by_hour=q.calls_by_hour(calls),
        top_callers=figures.top_callers(calls, top_n),
        incidents_by_type=figures.named_types(q.incidents_by_type_counts(incidents), profile),
        incidents_by_kecamatan=q.incidents_by_kecamatan(incidents),
        dispatches_by_agency=figures.dispatches_by_agency(dispatches),
        compliance=compliance((c.as_tuple for c in cases), profile),
        response=durations(c.response_seconds for c in cases),
        open_at_end=q.open_count(still_open),
        open_cases=q.open_cases(still_open, profile, OPEN_CASES_LISTED),
        per_posko=_per_posko(period, cases),
    )


def _per_posko(period: ReportPeriod, cases) -> list[PoskoRow]:
    """Every posko's headline figures (always for the whole regency, so a posko can be compared)."""
    calls = q.calls_per_posko(q.calls_where(period, None))
    incidents = q.incidents_per_posko(q.incidents_where(period, None))
    dispatches = q.dispatches_per_posko(q.dispatches_where(period, None))
    still_open = q.incidents_per_posko(q.open_where(period, None))
    response = defaultdict(list)
    for case in cases:
        response[case.incident.node].append(case.response_seconds)
    rows = []
    for node in sorted(set(calls) | set(incidents) | set(still_open)):
        by_type = calls.get(node, {})
        rows.append(PoskoRow(
            node=node, calls=sum(by_type.values()), normal=by_type.get(q.NORMAL, 0), pranks=by_type.get(q.PRANK, 0),
            non_actionable=sum(n for k, n in by_type.items() if k in q.NON_ACTIONABLE_KEYS),
            incidents=incidents.get(node, 0), dispatches=dispatches.get(node, 0), open_at_end=still_open.get(node, 0),
            response=durations(response.get(node, [])),
        ))
    return rows
