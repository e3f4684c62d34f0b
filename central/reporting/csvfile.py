"""The report as one CSV file in long format: section, key, name, measure, value.

Why this exists: one file that any tool (Excel, LibreOffice, pandas, sqlite-utils) reads
whatever the table, in the same shape as the posko's shift report CSV; cells go through
edge.services.tabular (formula guard, UTF-8 BOM).
"""

from __future__ import annotations

from central.reporting.model import RegencyReport
from central.reporting.tables import KEY, LABEL, report_tables
from edge.services.tabular import csv_text

HEADER = ("bagian", "kunci", "nama", "ukuran", "nilai")


def report_csv(report: RegencyReport, lang: str = "id") -> str:
    rows = []
    for table in report_tables(report, lang):
        key_col = next(i for i, c in enumerate(table.columns) if c.kind == KEY)
        label_col = next(i for i, c in enumerate(table.columns) if c.kind == LABEL)
        for row in table.rows:
            for i, column in enumerate(table.columns):
                if column.kind in (KEY, LABEL):
                    continue
                rows.append((table.key, row[key_col], row[label_col], column.key, row[i]))
    return csv_text(HEADER, rows)
