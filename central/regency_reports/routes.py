"""The report page (/pusat/laporan/) and its exports: parse the period and posko, build the
report (central.reporting), render it as HTML, PDF, XLSX or CSV."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request

from central.regency_reports import bp
from central.reporting import RegencyReport, build_report, parse_report_period
from central.reporting import fmt as report_fmt
from central.reporting.charts import report_charts
from central.reporting.csvfile import report_csv
from central.reporting.pdf import report_pdf
from central.reporting.periods import KINDS, ReportPeriod, previous_month, previous_quarter
from central.reporting.queries import poskos
from central.reporting.xlsx import report_xlsx
from edge.enums import Role
from edge.i18n import current_lang
from edge.services.errors import ValidationError
from edge.services.privacy import hide_top_callers
from edge.services.validation import Checker
from edge.timeutil import wib_today
from edge.web import attachment, current_user, field_errors, roles_required

# The analyst reads aggregates too (with callers' numbers masked, as for central staff).
REPORT_ROLES = (Role.CENTRAL, Role.SUPERVISOR, Role.ADMIN, Role.ANALYST)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _parse(args: Mapping[str, Any]) -> tuple[ReportPeriod, str | None]:
    """The period and the posko (None: the whole regency); ValidationError naming the bad fields."""
    errors: dict[str, str] = {}
    try:
        period = parse_report_period(args)
    except ValidationError as exc:
        errors.update(exc.errors)
    check = Checker(args)
    posko = check.text("posko", max_len=64) or None
    if posko is not None and posko not in poskos():
        check.fail("posko", "Posko tidak dikenal")
    errors.update(check.errors)
    if errors:
        raise ValidationError(errors)
    return period, posko


def _report(period: ReportPeriod, posko: str | None) -> RegencyReport:
    """The report, the top callers' numbers masked for roles that may not see callers (privacy)."""
    return hide_top_callers(build_report(period, posko), current_user().role)


def _filename(period: ReportPeriod, posko: str | None, ext: str) -> str:
    return f"laporan-112-{period.slug}-{posko or 'kabupaten'}.{ext}"


def _page(report=None, errors: dict | None = None, status: int = 200):
    today = wib_today()
    return render_template(
        "regency_reports/report.html", r=report, errors=errors or {}, args=request.args, kinds=KINDS,
        poskos=poskos(), charts=report_charts(report, current_lang()) if report else {}, fmt=report_fmt,
        presets={"month": previous_month(today), "quarter": previous_quarter(today)},
        query={**report.period.form_values, "posko": report.posko or ""} if report else {},
    ), status


@bp.get("/")
@roles_required(*REPORT_ROLES)
def report():
    try:
        period, posko = _parse(request.args)
    except ValidationError as exc:
        return _page(errors=field_errors(exc), status=422)
    return _page(_report(period, posko))


def _export(render, ext: str, mimetype: str):
    try:
        period, posko = _parse(request.args)
    except ValidationError as exc:
        return _page(errors=field_errors(exc), status=422)
    body = render(_report(period, posko), current_lang())
    return attachment(body, _filename(period, posko, ext), mimetype)


@bp.get("/laporan.pdf")
@roles_required(*REPORT_ROLES)
def report_pdf_file():
    return _export(report_pdf, "pdf", "application/pdf")


@bp.get("/laporan.xlsx")
@roles_required(*REPORT_ROLES)
def report_xlsx_file():
    return _export(report_xlsx, "xlsx", XLSX_MIME)


@bp.get("/laporan.csv")
@roles_required(*REPORT_ROLES)
def report_csv_file():
    return _export(report_csv, "csv", "text/csv")
