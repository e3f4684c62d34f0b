"""Posko reports: the figures of one day or one shift, and their CSV export.

A posko hands over at every shift change and sends a daily summary to central
(Pasal 16-17: monthly report, quarterly monitoring and evaluation). The figures here
are those a supervisor reads at handover: how many calls and of which kind (the
Bengkalis trial had ~85% non-actionable calls), when they came, which cases were
recorded, which agencies were sent, and how each SOP step did against the active
profile's time standard.

Periods are WIB days or shifts, turned into naive-UTC bounds once (`parse_period`),
so every query compares stored instants; nothing below knows about time zones except
the per-hour buckets, which are labelled in WIB.
"""

from __future__ import annotations

import re
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from edge.enums import CallType, IncidentStatus
from edge.i18n import translate
from edge.models import Call, Dispatch, Incident
from edge.profile import ProfileError
from edge.services import figures
from edge.services.board import CaseRow, load_cases
from edge.services.figures import UNCLASSIFIED, AgencyCount, CallerCount, KeyCount, TypeCount
from edge.services.profiles import active_profile
from edge.services.sop_stats import (
    StepCompliance,
    case_step_durations,
    compliance,
    percentile,  # noqa: F401  (re-exported: part of this module's API)
)
from edge.services.tabular import csv_text
from edge.services.validation import Checker
from edge.timeutil import to_wib, wib_day_bounds, wib_today

# --- periods --------------------------------------------------------------------------


def _(text: str) -> str:
    """Mark a label for the message catalogue; it is translated where it is shown."""
    return text



@dataclass(frozen=True)
class Shift:
    key: str
    label: str  # Indonesian catalogue key
    start: time  # WIB
    hours: int


SHIFTS: tuple[Shift, ...] = (
    Shift("all", _("Sepanjang hari (00.00-24.00)"), time(0), 24),
    Shift("pagi", _("Pagi (07.00-15.00)"), time(7), 8),
    Shift("siang", _("Siang (15.00-23.00)"), time(15), 8),
    Shift("malam", _("Malam (23.00-07.00 hari berikutnya)"), time(23), 8),
)
SHIFTS_BY_KEY: dict[str, Shift] = {s.key: s for s in SHIFTS}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    day: date  # the WIB date the shift starts on
    shift: Shift
    start_utc: datetime  # inclusive, naive UTC
    end_utc: datetime  # exclusive

    @property
    def slug(self) -> str:
        return f"{self.day.isoformat()}-{self.shift.key}"


def period_for(day: date, shift_key: str = "all") -> Period:
    shift = SHIFTS_BY_KEY[shift_key]
    start, end = wib_day_bounds(day, shift.start, shift.hours)
    return Period(day, shift, start, end)


def parse_period(args: Mapping[str, Any], today: date | None = None) -> Period:
    """`date` (WIB, YYYY-MM-DD, default today) and `shift` (all/pagi/siang/malam, default all)."""
    check = Checker(args)
    raw = check.text("date", max_len=10)
    day = today or wib_today()
    if raw:
        try:
            if not DATE_RE.match(raw):
                raise ValueError(raw)
            day = date.fromisoformat(raw)
        except ValueError:
            check.fail("date", "Tanggal tidak valid (YYYY-MM-DD)")
        else:
            if not MIN_YEAR <= day.year <= MAX_YEAR:
                check.fail("date", "Tanggal harus antara tahun 2000 dan 2100")
    shift_key = check.choice("shift", SHIFTS_BY_KEY, default="all")
    check.done()
    return period_for(day, shift_key)


# --- figures --------------------------------------------------------------------------

@dataclass(frozen=True)
class HourCount:
    start_utc: datetime
    label: str  # "07:00" in WIB
    count: int


@dataclass(frozen=True)
class ShiftSummary:
    start_utc: datetime
    end_utc: datetime
    profile_id: str
    calls_by_type: list[KeyCount]
    calls_total: int
    calls_per_hour: list[HourCount]
    incidents_by_type: list[TypeCount]
    incidents_by_status: list[KeyCount]
    incidents_total: int
    dispatches_by_agency: list[AgencyCount]
    dispatches_total: int
    compliance: list[StepCompliance]
    top_callers: list[CallerCount]

    @property
    def calls_classified(self) -> int:
        return sum(c.count for c in self.calls_by_type if c.key != UNCLASSIFIED)

    @property
    def calls_non_actionable(self) -> int:
        keys = {t.value for t in (CallType.INFORMATION, CallType.GHOST, CallType.PRANK)}
        return sum(c.count for c in self.calls_by_type if c.key in keys)

    @property
    def non_actionable_share(self) -> float | None:
        """Information, ghost and prank calls as a fraction of the classified calls."""
        classified = self.calls_classified
        return self.calls_non_actionable / classified if classified else None

    @property
    def max_per_hour(self) -> int:
        return max((h.count for h in self.calls_per_hour), default=0)


def step_durations(row: CaseRow) -> dict[str, float | None]:
    """Seconds each step of a case took (see edge.services.sop_stats.case_step_durations)."""
    return case_step_durations(row.incident, row.call, row.dispatches)


def _compliance(rows: Iterable[CaseRow]) -> list[StepCompliance]:
    return compliance((row.incident, row.call, row.dispatches) for row in rows)


def _hour_slots(start_utc: datetime, end_utc: datetime) -> list[datetime]:
    slots, at = [], start_utc
    while at < end_utc:
        slots.append(at)
        at += timedelta(hours=1)
    return slots


def _calls_in(start_utc: datetime, end_utc: datetime):
    return (Call.rung_at >= start_utc) & (Call.rung_at < end_utc)


def _incidents_in(start_utc: datetime, end_utc: datetime) -> list[Incident]:
    return list(
        Incident.select()
        .where((Incident.recorded_at >= start_utc) & (Incident.recorded_at < end_utc))
        .order_by(Incident.recorded_at, Incident.case_no)
    )


def shift_summary(start_utc: datetime, end_utc: datetime) -> ShiftSummary:
    """Every figure of the report for calls rung, cases recorded and dispatches sent in [start, end)."""
    profile = active_profile()
    in_period = _calls_in(start_utc, end_utc)

    calls_by_type = figures.calls_by_type(in_period)

    slots = _hour_slots(start_utc, end_utc)
    per_slot: Tally[int] = Tally()
    for (rung_at,) in Call.select(Call.rung_at).where(in_period).tuples():
        per_slot[int((rung_at - start_utc).total_seconds() // 3600)] += 1
    calls_per_hour = [HourCount(s, to_wib(s).strftime("%H:%M"), per_slot[i]) for i, s in enumerate(slots)]

    top_callers = figures.top_callers(in_period)

    incidents = _incidents_in(start_utc, end_utc)
    incidents_by_type = figures.named_types(Tally(i.incident_type for i in incidents), profile)
    status_tally = Tally(i.status for i in incidents)
    incidents_by_status = [KeyCount(s.value, status_tally.get(s.value, 0)) for s in IncidentStatus]
    known_status = {s.value for s in IncidentStatus}
    for key in sorted(k for k in status_tally if k not in known_status):  # e.g. synced from a newer node
        incidents_by_status.append(KeyCount(key, status_tally[key]))

    dispatches_by_agency = figures.dispatches_by_agency((Dispatch.sent_at >= start_utc) & (Dispatch.sent_at < end_utc))

    return ShiftSummary(
        start_utc=start_utc,
        end_utc=end_utc,
        profile_id=profile.id,
        calls_by_type=calls_by_type,
        calls_total=sum(c.count for c in calls_by_type),
        calls_per_hour=calls_per_hour,
        incidents_by_type=incidents_by_type,
        incidents_by_status=incidents_by_status,
        incidents_total=len(incidents),
        dispatches_by_agency=dispatches_by_agency,
        dispatches_total=sum(a.sent for a in dispatches_by_agency),
        compliance=_compliance(load_cases(incidents)),
        top_callers=top_callers,
    )


# --- CSV ------------------------------------------------------------------------------

# CSV cells and documents: edge.services.tabular (shared with central's exports).


def _wib_text(value: datetime | None) -> str:
    local = to_wib(value)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else ""


def _label_id(key: str) -> str:
    """Indonesian label of a stored code (the CSV is for the posko and central, in Indonesian)."""
    return "Belum diklasifikasikan" if key == UNCLASSIFIED else translate(key, "id")


def _pct(share: float | None) -> float | None:
    return round(share * 100, 1) if share is not None else None


SUMMARY_HEADER = ("bagian", "kunci", "nama", "ukuran", "nilai")


def summary_rows(period: Period, s: ShiftSummary) -> list[tuple[Any, ...]]:
    """The report as long-format rows (section, key, name, measure, value): one section per table."""
    rows: list[tuple[Any, ...]] = [
        ("periode", "tanggal", "Tanggal (WIB)", "", period.day.isoformat()),
        ("periode", "shift", period.shift.label, "", period.shift.key),
        ("periode", "mulai", "Mulai (WIB)", "", _wib_text(s.start_utc)),
        ("periode", "selesai", "Selesai (WIB)", "", _wib_text(s.end_utc)),
        ("periode", "profil", "Profil rute", "", s.profile_id),
    ]
    for c in s.calls_by_type:
        rows.append(("panggilan_per_jenis", c.key, _label_id(c.key), "jumlah", c.count))
    rows.append(("panggilan_per_jenis", "total", "Total panggilan", "jumlah", s.calls_total))
    rows.append(("panggilan_per_jenis", "tidak_ditindaklanjuti", "Tidak perlu ditindaklanjuti", "jumlah",
                 s.calls_non_actionable))
    rows.append(("panggilan_per_jenis", "tidak_ditindaklanjuti", "Tidak perlu ditindaklanjuti",
                 "persen_dari_terklasifikasi", _pct(s.non_actionable_share)))
    for h in s.calls_per_hour:
        rows.append(("panggilan_per_jam", h.label, f"{h.label} WIB", "jumlah", h.count))
    for t in s.incidents_by_type:
        rows.append(("kasus_per_jenis", t.code, t.name_id, "jumlah", t.count))
    rows.append(("kasus_per_jenis", "total", "Total kasus", "jumlah", s.incidents_total))
    for st in s.incidents_by_status:
        rows.append(("kasus_per_status", st.key, _label_id(st.key), "jumlah", st.count))
    for a in s.dispatches_by_agency:
        rows.append(("penugasan_per_instansi", a.code, a.name, "dikirim", a.sent))
        rows.append(("penugasan_per_instansi", a.code, a.name, "dikonfirmasi", a.acknowledged))
        rows.append(("penugasan_per_instansi", a.code, a.name, "selesai", a.finished))
    rows.append(("penugasan_per_instansi", "total", "Total penugasan", "dikirim", s.dispatches_total))
    for c in s.compliance:
        for measure, value in (
            ("standar_detik", c.standard_seconds), ("terukur", c.measured), ("sesuai_standar", c.within),
            ("persen_sesuai", _pct(c.share)), ("median_detik", c.median_seconds),
            ("p90_detik", c.p90_seconds), ("berjalan", c.running),
        ):
            rows.append(("kepatuhan_sop", c.key, c.name_id, measure, value))
    for caller in s.top_callers:
        rows.append(("penelepon_teratas", caller.number, caller.number, "panggilan", caller.calls))
        rows.append(("penelepon_teratas", caller.number, caller.number, "iseng", caller.pranks))
    return rows


def summary_csv(period: Period, summary: ShiftSummary) -> str:
    return csv_text(SUMMARY_HEADER, summary_rows(period, summary))


def incidents_csv(period: Period) -> str:
    """Every case recorded in the period, one row each, with its step durations in seconds."""
    profile = active_profile()
    header = [
        "no_kasus", "dicatat_wib", "kode_jenis", "jenis", "kecamatan", "desa", "prioritas", "status",
        "status_nama", "instansi",
        *(f"durasi_{step.key}_detik" for step in profile.sop_steps),
        "ditutup_wib",
    ]
    rows = []
    for row in load_cases(_incidents_in(period.start_utc, period.end_utc)):
        inc = row.incident
        try:
            type_name = profile.incident_type(inc.incident_type).name_id
        except ProfileError:
            type_name = ""
        durations = step_durations(row)
        agencies = " ".join(sorted(d.agency.code for d in row.dispatches))
        rows.append([
            inc.case_no, _wib_text(inc.recorded_at), inc.incident_type, type_name, inc.kecamatan, inc.desa,
            inc.priority, inc.status, _label_id(inc.status), agencies,
            *(_seconds(durations.get(step.key)) for step in profile.sop_steps),
            _wib_text(inc.closed_at),
        ])
    return csv_text(header, rows)


def _seconds(value: float | None) -> int | None:
    return round(value) if value is not None else None
