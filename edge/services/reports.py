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

import csv
import io
import math
import re
import statistics
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from peewee import JOIN, Case, fn

from edge.enums import CallType, DispatchStatus, IncidentStatus
from edge.i18n import translate
from edge.models import Agency, Call, Dispatch, Incident
from edge.profile import ProfileError
from edge.services.board import CaseRow, load_cases
from edge.services.profiles import active_profile, profile_for
from edge.services.sop import step_bounds
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

UNCLASSIFIED = "unclassified"  # call_type NULL: answered, not (yet) classified
TOP_CALLERS = 10


@dataclass(frozen=True)
class KeyCount:
    key: str  # a code (call type, incident status) or UNCLASSIFIED; its label comes from the catalogue
    count: int


@dataclass(frozen=True)
class HourCount:
    start_utc: datetime
    label: str  # "07:00" in WIB
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


@dataclass(frozen=True)
class CallerCount:
    number: str
    calls: int
    pranks: int


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


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def step_durations(row: CaseRow) -> dict[str, float | None]:
    """Seconds each step of a case took, from its own timestamps; None while it has no end.

    Steps that never started are absent. Unlike the board's timers, closing a case does
    not stop a step's clock here: a report counts only steps whose end was recorded.
    """
    out: dict[str, float | None] = {}
    for key, (start, end) in step_bounds(row.incident, row.call, row.dispatches).items():
        if start is None:
            continue
        out[key] = (end - start).total_seconds() if end is not None else None
    return out


def _compliance(rows: Iterable[CaseRow]) -> list[StepCompliance]:
    profile = active_profile()
    # Each case is measured against the standards of the profile it was recorded under.
    per_case = [(step_durations(row), profile_for(row.incident.profile_id)) for row in rows]
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
            median_seconds=statistics.median(done_seconds) if done_seconds else None,
            p90_seconds=percentile(done_seconds, 90),
        ))
    return out


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

    by_type = dict(
        Call.select(Call.call_type, fn.COUNT(Call.id)).where(in_period).group_by(Call.call_type).tuples()
    )
    calls_by_type = [KeyCount(t.value, by_type.get(t.value, 0)) for t in CallType]
    known = {t.value for t in CallType}
    # NULL (not yet classified) and anything outside the vocabulary (e.g. synced from a newer node).
    other = sum(n for k, n in by_type.items() if k not in known)
    calls_by_type.append(KeyCount(UNCLASSIFIED, other))

    slots = _hour_slots(start_utc, end_utc)
    per_slot: Tally[int] = Tally()
    for (rung_at,) in Call.select(Call.rung_at).where(in_period).tuples():
        per_slot[int((rung_at - start_utc).total_seconds() // 3600)] += 1
    calls_per_hour = [HourCount(s, to_wib(s).strftime("%H:%M"), per_slot[i]) for i, s in enumerate(slots)]

    pranks = fn.SUM(Case(None, [(Call.call_type == CallType.PRANK.value, 1)], 0))
    top_callers = [
        CallerCount(number, calls, int(prank_count or 0))
        for number, calls, prank_count in (
            Call.select(Call.caller_number, fn.COUNT(Call.id).alias("n"), pranks.alias("p"))
            .where(in_period & (Call.caller_number != ""))
            .group_by(Call.caller_number)
            .order_by(fn.COUNT(Call.id).desc(), pranks.desc(), Call.caller_number)
            .limit(TOP_CALLERS)
            .tuples()
        )
    ]

    incidents = _incidents_in(start_utc, end_utc)
    type_tally = Tally(i.incident_type for i in incidents)
    incidents_by_type = []
    for code in sorted(type_tally):
        try:
            spec = profile.incident_type(code)
            names = (spec.name_id, spec.name_en)
        except ProfileError:
            names = (f"Jenis {code}", f"Type {code}")
        incidents_by_type.append(TypeCount(code, names[0], names[1], type_tally[code]))
    status_tally = Tally(i.status for i in incidents)
    incidents_by_status = [KeyCount(s.value, status_tally.get(s.value, 0)) for s in IncidentStatus]
    known_status = {s.value for s in IncidentStatus}
    for key in sorted(k for k in status_tally if k not in known_status):  # e.g. synced from a newer node
        incidents_by_status.append(KeyCount(key, status_tally[key]))

    acked = fn.SUM(Case(None, [(Dispatch.acknowledged_at.is_null(False), 1)], 0))
    finished = fn.SUM(Case(None, [(Dispatch.status == DispatchStatus.FINISHED.value, 1)], 0))
    dispatches_by_agency = [
        AgencyCount(code, name, name_en, sent, int(ack or 0), int(fin or 0))
        for code, name, name_en, sent, ack, fin in (
            Dispatch.select(Agency.code, Agency.name, Agency.name_en, fn.COUNT(Dispatch.id), acked, finished)
            .join(Agency, JOIN.INNER)
            .where((Dispatch.sent_at >= start_utc) & (Dispatch.sent_at < end_utc))
            .group_by(Agency.code, Agency.name, Agency.name_en)
            .order_by(fn.COUNT(Dispatch.id).desc(), Agency.code)
            .tuples()
        )
    ]

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

CSV_BOM = "\ufeff"  # so Excel opens the file as UTF-8
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with a quote."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return CSV_BOM + out.getvalue()


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
    return _csv_text(SUMMARY_HEADER, summary_rows(period, summary))


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
    return _csv_text(header, rows)


def _seconds(value: float | None) -> int | None:
    return round(value) if value is not None else None
