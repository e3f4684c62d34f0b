"""Report periods: a WIB month, a quarter, a year or custom dates, as naive-UTC bounds.

Why this exists: the Bupati gets a monthly complaint report and, under Perbup 48/2025
Pasal 17 (1), a monitoring and evaluation at least once every three months; central staff
also ask for any span of days. Operators count days in WIB, the database stores UTC: the
period is turned into [start_utc, end_utc) once here, and every query compares instants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from edge.services.validation import Checker
from edge.timeutil import wib_day_bounds, wib_today


def _(text: str) -> str:
    """Mark a label for the message catalogue; it is translated where it is shown."""
    return text


KINDS: dict[str, str] = {
    "month": _("Bulanan"),
    "quarter": _("Triwulanan"),
    "year": _("Tahunan"),
    "custom": _("Rentang tanggal"),
}
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
             "November", "Desember")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
ROMAN = ("I", "II", "III", "IV")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
YEAR_RE = re.compile(r"^\d{4}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_DAYS = 731  # a custom span of at most two years


@dataclass(frozen=True)
class ReportPeriod:
    kind: str  # a key of KINDS
    first_day: date  # WIB, inclusive
    last_day: date  # WIB, inclusive
    start_utc: datetime  # inclusive, naive UTC
    end_utc: datetime  # exclusive

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def slug(self) -> str:
        """For file names: 2025-07, 2025-Q3, 2025, 2025-07-01_2025-07-15."""
        if self.kind == "month":
            return self.first_day.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.first_day.year}-Q{(self.first_day.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.first_day.year)
        return f"{self.first_day.isoformat()}_{self.last_day.isoformat()}"

    def label(self, lang: str = "id") -> str:
        """Juli 2025 · Triwulan III 2025 · Tahun 2025 · 01-07-2025 s.d. 15-07-2025 (English when asked)."""
        en = lang == "en"
        first = self.first_day
        if self.kind == "month":
            return f"{(MONTHS_EN if en else MONTHS_ID)[first.month - 1]} {first.year}"
        if self.kind == "quarter":
            roman = ROMAN[(first.month - 1) // 3]
            return f"Quarter {roman} {first.year}" if en else f"Triwulan {roman} {first.year}"
        if self.kind == "year":
            return f"Year {first.year}" if en else f"Tahun {first.year}"
        joiner = "to" if en else "s.d."
        return f"{first.strftime('%d-%m-%Y')} {joiner} {self.last_day.strftime('%d-%m-%Y')}"

    @property
    def form_values(self) -> dict[str, str]:
        """The picker's fields that select this period again."""
        return {"period": self.kind, "month": self.first_day.strftime("%Y-%m"),
                "quarter": f"{self.first_day.year}-Q{(self.first_day.month - 1) // 3 + 1}",
                "year": str(self.first_day.year), "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat()}


def span(kind: str, first_day: date, last_day: date) -> ReportPeriod:
    start, _end = wib_day_bounds(first_day)
    _start, end = wib_day_bounds(last_day)
    return ReportPeriod(kind, first_day, last_day, start, end)


def month_period(year: int, month: int) -> ReportPeriod:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return span("month", first, following - timedelta(days=1))


def quarter_period(year: int, quarter: int) -> ReportPeriod:
    first_month = 3 * (quarter - 1) + 1
    last = month_period(year, first_month + 2).last_day
    return span("quarter", date(year, first_month, 1), last)


def year_period(year: int) -> ReportPeriod:
    return span("year", date(year, 1, 1), date(year, 12, 31))


def previous_quarter(today: date) -> ReportPeriod:
    """The last complete quarter before `today` (the Pasal 17 evaluation)."""
    quarter = (today.month - 1) // 3  # 0 in Q1: the last quarter of the year before
    return quarter_period(today.year - 1, 4) if quarter == 0 else quarter_period(today.year, quarter)


def previous_month(today: date) -> ReportPeriod:
    """The last complete month before `today` (the monthly complaint report)."""
    first = today.replace(day=1) - timedelta(days=1)
    return month_period(first.year, first.month)


def _year_ok(check: Checker, field: str, year: int) -> bool:
    if not MIN_YEAR <= year <= MAX_YEAR:
        check.fail(field, "Tahun harus antara 2000 dan 2100")
        return False
    return True


def _day(check: Checker, field: str) -> date | None:
    raw = check.text(field, max_len=10)
    if not raw:
        check.fail(field, "Wajib diisi")
        return None
    try:
        if not DATE_RE.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        check.fail(field, "Tanggal tidak valid (YYYY-MM-DD)")
        return None
    return day if _year_ok(check, field, day.year) else None


def parse_report_period(args: Mapping[str, Any], today: date | None = None) -> ReportPeriod:
    """`period` = month (`month` YYYY-MM), quarter (`quarter` YYYY-Qn), year (`year` YYYY) or custom
    (`from`, `to` YYYY-MM-DD, WIB, inclusive). Default: the current month."""
    today = today or wib_today()
    check = Checker(args)
    kind = check.choice("period", KINDS, default="month")
    result: ReportPeriod | None = None
    if kind == "month":
        raw = check.text("month", max_len=7) or today.strftime("%Y-%m")
        match = MONTH_RE.match(raw)
        if not match or not 1 <= int(match.group(2)) <= 12:
            check.fail("month", "Bulan tidak valid (YYYY-MM)")
        elif _year_ok(check, "month", int(match.group(1))):
            result = month_period(int(match.group(1)), int(match.group(2)))
    elif kind == "quarter":
        raw = check.text("quarter", max_len=7) or f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        match = QUARTER_RE.match(raw)
        if not match:
            check.fail("quarter", "Triwulan tidak valid (YYYY-Q1 s.d. YYYY-Q4)")
        elif _year_ok(check, "quarter", int(match.group(1))):
            result = quarter_period(int(match.group(1)), int(match.group(2)))
    elif kind == "year":
        raw = check.text("year", max_len=4) or str(today.year)
        if not YEAR_RE.match(raw):
            check.fail("year", "Tahun tidak valid (YYYY)")
        elif _year_ok(check, "year", int(raw)):
            result = year_period(int(raw))
    elif kind == "custom":
        first, last = _day(check, "from"), _day(check, "to")
        if first and last:
            if last < first:
                check.fail("to", "Tanggal akhir sebelum tanggal awal")
            elif (last - first).days >= MAX_DAYS:
                check.fail("to", "Rentang paling lama 2 tahun")
            else:
                result = span("custom", first, last)
    check.done()
    assert result is not None  # check.done() raised otherwise
    return result
