"""The regency report's counts: one portable GROUP BY each, filtered by period and posko.

Why this exists: central holds every posko's rows (`node` = the posko that recorded them),
a year of them (100,000 calls and more), on SQLite or PostgreSQL. Counting is left to the
database with plain peewee expressions; the counts shared with the posko's shift report
come from edge.services.figures, and the only engine-specific expression (the hour of a
timestamp) from central.reporting.dialect.
"""

from __future__ import annotations

from collections import defaultdict

from peewee import JOIN, Expression, fn

from central.reporting.dialect import utc_hour
from central.reporting.model import HourOfDay, OpenCase
from central.reporting.periods import ReportPeriod
from edge.enums import NON_ACTIONABLE, CallType
from edge.models import Call, Dispatch, Incident
from edge.profile import Profile, ProfileError
from edge.services.figures import KeyCount

WIB_OFFSET_HOURS = 7  # WIB is UTC+7 all year (no daylight saving), so an hour bucket maps exactly


def calls_where(period: ReportPeriod, posko: str | None) -> Expression:
    cond = (Call.rung_at >= period.start_utc) & (Call.rung_at < period.end_utc)
    return cond & (Call.node == posko) if posko else cond


def incidents_where(period: ReportPeriod, posko: str | None) -> Expression:
    cond = (Incident.recorded_at >= period.start_utc) & (Incident.recorded_at < period.end_utc)
    return cond & (Incident.node == posko) if posko else cond


def dispatches_where(period: ReportPeriod, posko: str | None) -> Expression:
    """Dispatches sent in the period (as on the shift report), of cases recorded by the posko."""
    cond = (Dispatch.sent_at >= period.start_utc) & (Dispatch.sent_at < period.end_utc)
    return cond & (Incident.node == posko) if posko else cond


def open_where(period: ReportPeriod, posko: str | None) -> Expression:
    """Cases recorded before the end of the period and not closed by then."""
    cond = (Incident.recorded_at < period.end_utc) & (
        Incident.closed_at.is_null(True) | (Incident.closed_at >= period.end_utc))
    return cond & (Incident.node == posko) if posko else cond


def poskos() -> list[str]:
    """Every posko with calls or cases here (the nodes that recorded them)."""
    nodes = {n for (n,) in Call.select(Call.node).distinct().tuples()}
    nodes |= {n for (n,) in Incident.select(Incident.node).distinct().tuples()}
    return sorted(nodes)


def calls_by_hour(where: Expression) -> list[HourOfDay]:
    """Calls per hour of the day in WIB (0-23), all 24 hours, empty ones included."""
    hour = utc_hour(Call.rung_at)
    per_utc_hour = dict(Call.select(hour, fn.COUNT(Call.id)).where(where).group_by(hour).tuples())
    wib = {(int(h) + WIB_OFFSET_HOURS) % 24: n for h, n in per_utc_hour.items()}
    return [HourOfDay(h, wib.get(h, 0)) for h in range(24)]


def incidents_by_type_counts(where: Expression) -> dict[int, int]:
    return dict(Incident.select(Incident.incident_type, fn.COUNT(Incident.id)).where(where)
                .group_by(Incident.incident_type).tuples())


def incidents_by_kecamatan(where: Expression) -> list[KeyCount]:
    """Cases per kecamatan, most first (ties by name)."""
    rows = (Incident.select(Incident.kecamatan, fn.COUNT(Incident.id)).where(where)
            .group_by(Incident.kecamatan).tuples())
    return sorted((KeyCount(k or "", n) for k, n in rows), key=lambda c: (-c.count, c.key))


def open_count(where: Expression) -> int:
    return Incident.select().where(where).count()


def open_cases(where: Expression, profile: Profile, limit: int) -> list[OpenCase]:
    """The oldest cases still open at the end of the period."""
    out = []
    query = (Incident.select(Incident.case_no, Incident.node, Incident.incident_type, Incident.kecamatan,
                             Incident.status, Incident.recorded_at)
             .where(where).order_by(Incident.recorded_at, Incident.case_no).limit(limit))
    for inc in query:
        try:
            spec = profile.incident_type(inc.incident_type)
            names = (spec.name_id, spec.name_en)
        except ProfileError:
            names = (f"Jenis {inc.incident_type}", f"Type {inc.incident_type}")
        out.append(OpenCase(inc.case_no, inc.node, inc.incident_type, names[0], names[1], inc.kecamatan,
                            inc.status, inc.recorded_at))
    return out


# --- per posko -----------------------------------------------------------------------


def calls_per_posko(where: Expression) -> dict[str, dict[str | None, int]]:
    out: dict[str, dict[str | None, int]] = defaultdict(dict)
    for node, call_type, n in (Call.select(Call.node, Call.call_type, fn.COUNT(Call.id)).where(where)
                               .group_by(Call.node, Call.call_type).tuples()):
        out[node][call_type] = n
    return out


def incidents_per_posko(where: Expression) -> dict[str, int]:
    return dict(Incident.select(Incident.node, fn.COUNT(Incident.id)).where(where).group_by(Incident.node).tuples())


def dispatches_per_posko(where: Expression) -> dict[str, int]:
    return dict(Dispatch.select(Incident.node, fn.COUNT(Dispatch.id)).join(Incident, JOIN.INNER).where(where)
                .group_by(Incident.node).tuples())


NON_ACTIONABLE_KEYS = frozenset(t.value for t in NON_ACTIONABLE)
PRANK, NORMAL = CallType.PRANK.value, CallType.NORMAL.value
