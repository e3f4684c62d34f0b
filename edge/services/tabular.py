"""Cells of exported tables (CSV, XLSX) that a spreadsheet opens safely.

Why this exists: the posko's shift report and central's regency reports both export
tables that people open in Excel or LibreOffice. Text typed by a caller or an operator
(a landmark, a report) that starts with `=`, `+`, `-` or `@` would run there as a
formula, so every exporter passes text through `guard_text`; the CSV files also start
with a UTF-8 byte-order mark so Excel reads Indonesian text correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

CSV_BOM = "\ufeff"  # so Excel opens the file as UTF-8
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard_text(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with a quote; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """A CSV cell: empty for None, one decimal for a float, guarded text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return guard_text(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document (BOM, CRLF line ends) from a header and rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return CSV_BOM + out.getvalue()
