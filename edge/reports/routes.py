from __future__ import annotations

from flask import render_template, request

from edge.enums import Role
from edge.reports import bp
from edge.services import reports as report_svc
from edge.services.errors import ValidationError
from edge.services.privacy import hide_top_callers
from edge.timeutil import utcnow
from edge.web import attachment, current_user, field_errors, roles_required

REPORT_ROLES = (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN, Role.CENTRAL, Role.ANALYST)


def _page(period=None, summary=None, errors: dict | None = None, status: int = 200):
    return render_template(
        "reports/shift.html", period=period, summary=summary, errors=errors or {}, args=request.args,
        shifts=report_svc.SHIFTS, generated_at=utcnow(),
    ), status


def _summary(period):
    """The period's figures, the top callers' numbers hidden from roles that may not see them."""
    summary = report_svc.shift_summary(period.start_utc, period.end_utc)
    return hide_top_callers(summary, current_user().role)


def _invalid(exc: ValidationError):
    return _page(errors=field_errors(exc), status=422)


@bp.route("/reports/shift")
@roles_required(*REPORT_ROLES)
def shift():
    try:
        period = report_svc.parse_period(request.args)
    except ValidationError as exc:
        return _invalid(exc)
    return _page(period, _summary(period))


@bp.route("/reports/shift.csv")
@roles_required(*REPORT_ROLES)
def shift_csv():
    try:
        period = report_svc.parse_period(request.args)
    except ValidationError as exc:
        return _invalid(exc)
    summary = _summary(period)
    return attachment(report_svc.summary_csv(period, summary), f"laporan-{period.slug}.csv", "text/csv")


@bp.route("/reports/incidents.csv")
@roles_required(*REPORT_ROLES)
def incidents_csv():
    try:
        period = report_svc.parse_period(request.args)
    except ValidationError as exc:
        return _invalid(exc)
    return attachment(report_svc.incidents_csv(period), f"kasus-{period.slug}.csv", "text/csv")
