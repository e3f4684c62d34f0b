"""A period's closed cases as one download: the same function behind the export page and
`siaga112 export`, so both give byte-for-byte the same kind of file.

Formats:
- `cap`: a zip with one CAP 1.2 XML file per case (`<case_no>.cap.xml`);
- `eido`: one JSON array of EIDO-style documents; `eido-jsonl`: the same, one per line;
- `records`: the per-case records (central.interchange.case_record), one JSON document a line;
- `csv`: every call rung in the period (the calls behind the figures: type, caller, case, place),
  caller numbers as the privacy view allows (pseudonyms in a pseudonymised export).
The period is WIB days, both ends included: cases by the day they were closed, calls by the day
they rang.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any

from peewee import JOIN

from central.interchange import cap, eido
from central.interchange.case_record import closed_in, records
from edge.models import Call, Incident
from edge.services.errors import ValidationError
from edge.services.privacy import Scrubber
from edge.services.tabular import csv_text
from edge.timeutil import format_wib, iso_utc, wib_day_bounds, wib_today

FORMATS: dict[str, tuple[str, str]] = {  # format -> (file extension, MIME type)
    "cap": ("cap.zip", "application/zip"),
    "eido": ("eido.json", "application/json"),
    "eido-jsonl": ("eido.jsonl", "application/x-ndjson"),
    "records": ("records.jsonl", "application/x-ndjson"),
    "csv": ("calls.csv", "text/csv"),
}
MAX_DAYS = 400
CSV_HEADER = ("call_id", "node", "rung_at_utc", "rung_at_wib", "call_type", "source", "caller",
              "answer_seconds", "case_no", "incident_type", "kecamatan", "desa")


@dataclass(frozen=True)
class Period:
    first: date  # WIB, inclusive
    last: date  # WIB, inclusive

    @property
    def start_utc(self) -> datetime:
        return wib_day_bounds(self.first)[0]

    @property
    def end_utc(self) -> datetime:
        return wib_day_bounds(self.last)[1]

    @property
    def slug(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


def parse_period(args: Mapping[str, Any], today: date | None = None) -> Period:
    """`from` and `to` (YYYY-MM-DD, WIB, inclusive); default: this month up to today."""
    today = today or wib_today()
    errors: dict[str, str] = {}
    days: dict[str, date] = {"from": today.replace(day=1), "to": today}
    for field in ("from", "to"):
        raw = str(args.get(field) or "").strip()
        if not raw:
            continue
        try:
            days[field] = date.fromisoformat(raw)
            wib_day_bounds(days[field])
        except (ValueError, OverflowError):
            errors[field] = "Tanggal tidak valid (YYYY-MM-DD)"
    if not errors and days["from"] > days["to"]:
        errors["to"] = "Tanggal akhir sebelum tanggal awal"
    elif not errors and (days["to"] - days["from"]).days >= MAX_DAYS:
        errors["to"] = "Periode paling lama 400 hari"
    if errors:
        raise ValidationError(errors)
    return Period(days["from"], days["to"])


def filename(fmt: str, period: Period) -> str:
    return f"siaga112-{period.slug}.{FORMATS[fmt][0]}"


def write(fmt: str, period: Period, scrubber: Scrubber, out: IO[bytes]) -> int:
    """Write the export to `out`; answers how many cases (calls for csv) it holds."""
    if fmt not in FORMATS:
        raise ValidationError({"format": "Format ekspor tidak dikenal"})
    if fmt == "csv":
        return _calls_csv(period, scrubber, out)
    cases = records(closed_in(period.start_utc, period.end_utc), scrubber)
    count = 0
    if fmt == "cap":
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rec in cases:
                zf.writestr(cap.filename(rec), cap.alert_xml(rec))
                count += 1
        return count
    if fmt == "eido":
        out.write(b"[")
        for rec in cases:
            out.write((b",\n" if count else b"\n") + _json(eido.eido_document(rec)))
            count += 1
        out.write(b"\n]\n")
        return count
    for rec in cases:
        out.write(_json(eido.eido_document(rec) if fmt == "eido-jsonl" else rec) + b"\n")
        count += 1
    return count


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=False).encode("utf-8")


def _calls_csv(period: Period, scrubber: Scrubber, out: IO[bytes]) -> int:
    query = (Call.select(Call, Incident).join(Incident, JOIN.LEFT_OUTER, on=(Call.incident == Incident.id))
             .where((Call.rung_at >= period.start_utc) & (Call.rung_at < period.end_utc))
             .order_by(Call.rung_at, Call.id))
    rows = []
    for call in query:
        inc = call.incident if call.incident_id else None
        answer = (call.answered_at - call.rung_at).total_seconds() if call.answered_at else None
        rows.append((
            call.id, call.node, iso_utc(call.rung_at), format_wib(call.rung_at, "%Y-%m-%d %H:%M:%S"),
            call.call_type or "", call.source, scrubber.number(call.caller_number),
            round(answer) if answer is not None else None,
            inc.case_no if inc else "", inc.incident_type if inc else None,
            inc.kecamatan if inc else "", inc.desa if inc else "",
        ))
    out.write(csv_text(CSV_HEADER, rows).encode("utf-8"))
    return len(rows)
