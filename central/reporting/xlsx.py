"""The report as an XLSX workbook: one sheet per table, numbers stored as numbers.

Why this exists: central staff rework the figures in a spreadsheet for the Bupati's
report. openpyxl writes the workbook; text cells go through the formula guard of
edge.services.tabular (openpyxl would store "=..." as a formula).
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from central.reporting.model import RegencyReport
from central.reporting.tables import report_tables
from edge.services.tabular import guard_text

MAX_WIDTH = 60


def report_xlsx(report: RegencyReport, lang: str = "id") -> bytes:
    book = Workbook()
    book.remove(book.active)
    for table in report_tables(report, lang):
        sheet = book.create_sheet(table.key[:31])  # Excel's limit on sheet names
        sheet.append(table.headers(lang))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([guard_text(v) for v in row])
        for column in sheet.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(MAX_WIDTH, max(8, width + 2))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
