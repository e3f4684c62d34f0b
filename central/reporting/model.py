"""The figures of a regency report, as plain dataclasses (no peewee rows, no Flask).

Why this exists: the page, the PDF, the XLSX and the CSV all show the same figures; the
queries fill these once (central.reporting.build) and each renderer only reads them.
The per-table counts reuse the shift report's dataclasses (edge.services.figures) and
SOP compliance its `StepCompliance` (edge.services.sop_stats).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central.reporting.periods import ReportPeriod
from edge.enums import NON_ACTIONABLE, CallType
from edge.services.figures import UNCLASSIFIED, AgencyCount, CallerCount, KeyCount, TypeCount
from edge.services.sop_stats import StepCompliance

NO_KECAMATAN = ""  # a case recorded without a kecamatan


@dataclass(frozen=True)
class HourOfDay:
    hour: int  # 0-23, WIB
    count: int

    @property
    def label(self) -> str:
        return f"{self.hour:02d}"


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile of a duration over the cases where it was measured."""

    measured: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class PoskoRow:
    """One posko's headline figures, for the regency's comparison table."""

    node: str
    calls: int
    normal: int
    pranks: int
    non_actionable: int
    incidents: int
    dispatches: int
    open_at_end: int
    response: Durations

    @property
    def prank_ratio(self) -> float | None:
        classified = self.normal + self.non_actionable
        return self.pranks / classified if classified else None


@dataclass(frozen=True)
class OpenCase:
    case_no: str
    node: str
    incident_type: int
    type_name_id: str
    type_name_en: str
    kecamatan: str
    status: str  # the case's status now (it may have moved on since the end of the period)
    recorded_at: datetime


@dataclass(frozen=True)
class RegencyReport:
    period: ReportPeriod
    posko: str | None  # None: the whole regency
    poskos: list[str]  # every posko with records, for the filter
    profile_id: str
    regency: str  # the routing profile's name, e.g. Kabupaten Bengkalis
    generated_at: datetime
    calls_by_type: list[KeyCount]
    calls_by_hour: list[HourOfDay]  # 24 rows, hour of day in WIB
    top_callers: list[CallerCount]
    incidents_by_type: list[TypeCount]
    incidents_by_kecamatan: list[KeyCount]  # key: kecamatan name (NO_KECAMATAN when not filled in)
    dispatches_by_agency: list[AgencyCount]
    compliance: list[StepCompliance]
    response: Durations  # first call rung -> first agency on scene
    open_at_end: int  # cases recorded before the end of the period and not closed by then
    open_cases: list[OpenCase]  # the oldest of them, for the page and the PDF
    per_posko: list[PoskoRow]

    @property
    def calls_total(self) -> int:
        return sum(c.count for c in self.calls_by_type)

    def calls_of(self, call_type: str) -> int:
        return next((c.count for c in self.calls_by_type if c.key == call_type), 0)

    @property
    def calls_classified(self) -> int:
        return sum(c.count for c in self.calls_by_type if c.key != UNCLASSIFIED)

    @property
    def calls_non_actionable(self) -> int:
        return sum(self.calls_of(t.value) for t in NON_ACTIONABLE)

    @property
    def non_actionable_share(self) -> float | None:
        """Information, ghost and prank calls as a fraction of the classified calls."""
        return self.calls_non_actionable / self.calls_classified if self.calls_classified else None

    @property
    def prank_ratio(self) -> float | None:
        """Prank calls as a fraction of the classified calls."""
        return self.calls_of(CallType.PRANK.value) / self.calls_classified if self.calls_classified else None

    @property
    def incidents_total(self) -> int:
        return sum(t.count for t in self.incidents_by_type)

    @property
    def dispatches_total(self) -> int:
        return sum(a.sent for a in self.dispatches_by_agency)

    @property
    def busiest_hour(self) -> HourOfDay | None:
        return max(self.calls_by_hour, key=lambda h: h.count) if self.calls_total else None
