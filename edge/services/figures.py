"""Counting queries shared by the posko's shift report and central's regency reports.

Why this exists: both reports count calls by type, the numbers calling most, cases by
incident type and dispatches by agency, over a shift at a posko or over a month or a year
for the whole regency. Each function takes a peewee condition (the period, and on central
the posko), runs one portable GROUP BY (SQLite and PostgreSQL alike) and returns plain
dataclasses, so both reports count the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from peewee import JOIN, Case, Expression, fn

from edge.enums import CallType, DispatchStatus
from edge.models import Agency, Call, Dispatch, Incident
from edge.profile import Profile, ProfileError

UNCLASSIFIED = "unclassified"  # call_type NULL: answered, not (yet) classified
TOP_CALLERS = 10


@dataclass(frozen=True)
class KeyCount:
    key: str  # a code (call type, incident status) or UNCLASSIFIED; its label comes from the catalogue
    count: int


@dataclass(frozen=True)
class TypeCount:
    code: int
    name_id: str
    name_en: str
    count: int


@dataclass(frozen=True)
class AgencyCount:
    code: str
    name: str
    name_en: str
    sent: int
    acknowledged: int
    finished: int


@dataclass(frozen=True)
class CallerCount:
    number: str
    calls: int
    pranks: int


def calls_by_type(where: Expression) -> list[KeyCount]:
    """Calls matching `where` per call type, in the vocabulary's order, then UNCLASSIFIED."""
    by_type = dict(Call.select(Call.call_type, fn.COUNT(Call.id)).where(where).group_by(Call.call_type).tuples())
    out = [KeyCount(t.value, by_type.get(t.value, 0)) for t in CallType]
    known = {t.value for t in CallType}
    # NULL (not yet classified) and anything outside the vocabulary (e.g. synced from a newer node).
    out.append(KeyCount(UNCLASSIFIED, sum(n for k, n in by_type.items() if k not in known)))
    return out


def top_callers(where: Expression, limit: int = TOP_CALLERS) -> list[CallerCount]:
    """The numbers that called most (with how many of those calls were pranks); ties by pranks, number."""
    pranks = fn.SUM(Case(None, [(Call.call_type == CallType.PRANK.value, 1)], 0))
    return [
        CallerCount(number, calls, int(prank_count or 0))
        for number, calls, prank_count in (
            Call.select(Call.caller_number, fn.COUNT(Call.id).alias("n"), pranks.alias("p"))
            .where(where & (Call.caller_number != ""))
            .group_by(Call.caller_number)
            .order_by(fn.COUNT(Call.id).desc(), pranks.desc(), Call.caller_number)
            .limit(limit)
            .tuples()
        )
    ]


def named_types(counts: Mapping[int, int], profile: Profile) -> list[TypeCount]:
    """Counts per incident type code, named from the routing profile, in code order."""
    out = []
    for code in sorted(counts):
        try:
            spec = profile.incident_type(code)
            names = (spec.name_id, spec.name_en)
        except ProfileError:
            names = (f"Jenis {code}", f"Type {code}")
        out.append(TypeCount(code, names[0], names[1], counts[code]))
    return out


def dispatches_by_agency(where: Expression) -> list[AgencyCount]:
    """Dispatches matching `where` (which may name Dispatch, Agency and Incident columns) per agency,
    busiest first."""
    acked = fn.SUM(Case(None, [(Dispatch.acknowledged_at.is_null(False), 1)], 0))
    finished = fn.SUM(Case(None, [(Dispatch.status == DispatchStatus.FINISHED.value, 1)], 0))
    return [
        AgencyCount(code, name, name_en, sent, int(ack or 0), int(fin or 0))
        for code, name, name_en, sent, ack, fin in (
            Dispatch.select(Agency.code, Agency.name, Agency.name_en, fn.COUNT(Dispatch.id), acked, finished)
            .join(Agency, JOIN.INNER)
            .switch(Dispatch)
            .join(Incident, JOIN.INNER)
            .where(where)
            .group_by(Agency.code, Agency.name, Agency.name_en)
            .order_by(fn.COUNT(Dispatch.id).desc(), Agency.code)
            .tuples()
        )
    ]
