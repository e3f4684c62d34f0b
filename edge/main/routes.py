from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for

from edge.enums import CallType, DispatchStatus, IncidentStatus, Role, VictimCondition
from edge.i18n import translate
from edge.main import bp
from edge.services import calls as call_svc
from edge.services import dispatches as dispatch_svc
from edge.services import incidents as incident_svc
from edge.services.board import load_cases, open_cases
from edge.services.errors import NotFound, ServiceError, ValidationError
from edge.services.profiles import active_profile
from edge.services.validation import Checker
from edge.web import current_user, field_errors, flash_error, form_data, login_required, roles_required

log = logging.getLogger("siaga112.main")
INTAKE_ROLES = (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN)
READ_ROLES = (*INTAKE_ROLES, Role.CENTRAL, Role.AGENCY, Role.ANALYST)


@bp.route("/board")
@roles_required(*INTAKE_ROLES, Role.CENTRAL)
def board():
    return render_template("main/board.html", rows=open_cases(), pending=call_svc.recent_unclassified())


@bp.route("/board/rows")
@roles_required(*INTAKE_ROLES, Role.CENTRAL)
def board_rows():
    return render_template("main/_board_rows.html", rows=open_cases(), pending=call_svc.recent_unclassified())


@bp.route("/calls", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def new_call():
    try:
        call = call_svc.start_call(current_user(), form_data())
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("main.board"))
    return redirect(url_for("main.intake", call_id=call.id))


def _intake_page(call, values: dict | None = None, errors: dict | None = None, status: int = 200):
    profile = active_profile()
    values = values or {"reporter_number": call.caller_number}
    return render_template(
        "main/intake.html", call=call, profile=profile, values=values, errors=errors or {},
        history=call_svc.caller_history(call.caller_number, exclude_call_id=call.id),
        conditions=list(VictimCondition), call_types=(CallType.INFORMATION, CallType.GHOST, CallType.PRANK),
    ), status


@bp.route("/calls/<call_id>")
@roles_required(*INTAKE_ROLES)
def intake(call_id: str):
    try:
        call = call_svc.get_call(call_id)
    except NotFound:
        abort(404)
    if call.incident_id:
        return redirect(url_for("main.incident", incident_id=call.incident_id))
    return _intake_page(call)


@bp.route("/calls/<call_id>/answer", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def answer(call_id: str):
    """Take a call that is ringing on the GSM line: opens its intake form, number filled in."""
    try:
        call = call_svc.answer_call(current_user(), call_id)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("main.board"))
    return redirect(url_for("main.intake", call_id=call.id))


@bp.route("/calls/<call_id>/classify", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def classify(call_id: str):
    try:
        call = call_svc.classify_call(current_user(), call_id, form_data())
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("main.board"))
    flash(translate("Panggilan dicatat sebagai: {kind}", kind=translate(call.call_type)), "info")
    return redirect(url_for("main.board"))


@bp.route("/calls/<call_id>/incident", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def create_incident(call_id: str):
    data = form_data()
    try:
        call = call_svc.get_call(call_id)
        result = incident_svc.create_incident(current_user(), data, call_id=call.id)
    except ValidationError as exc:
        log.info("intake refused: %s", sorted(exc.errors))
        return _intake_page(call_svc.get_call(call_id), data, field_errors(exc), 422)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("main.board"))
    flash(translate("Kasus {case_no} tercatat", case_no=result.incident.case_no), "info")
    return redirect(url_for("main.incident", incident_id=result.incident.id) + "#dispatch")


@bp.route("/calls/<call_id>/link/<incident_id>", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def link_call(call_id: str, incident_id: str):
    try:
        incident = call_svc.link_call(current_user(), call_id, incident_id)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("main.board"))
    flash(translate("Panggilan ditautkan ke kasus {case_no}", case_no=incident.case_no), "info")
    return redirect(url_for("main.incident", incident_id=incident.id))


@bp.route("/intake/hints")
@roles_required(*INTAKE_ROLES)
def intake_hints():
    """Fragment under the intake form: repeat-caller history and related open cases."""
    check = Checker(request.args)
    number = check.phone("reporter_number")
    itype = check.integer("incident_type", lo=1, hi=99)
    lat = check.number("latitude", -90, 90)
    lon = check.number("longitude", -180, 180)
    desa = check.text("desa")
    call_id = check.text("call_id", max_len=36)
    related = incident_svc.related_open_incidents(itype, desa, lat, lon)
    history = call_svc.caller_history(number, exclude_call_id=call_id or None) if number else None
    return render_template("main/_hints.html", related=related, history=history, call_id=call_id)


def _incident_or_404(user, incident_id: str):
    try:
        return incident_svc.get_incident(user, incident_id)
    except NotFound:
        abort(404)


@bp.route("/incidents/<incident_id>")
@roles_required(*READ_ROLES)
def incident(incident_id: str):
    user = current_user()
    inc = _incident_or_404(user, incident_id)
    row = load_cases([inc])[0]
    profile = active_profile()
    dispatched = {d.agency.code for d in row.dispatches}
    suggested, agencies = incident_svc.dispatch_choices(inc, profile, dispatched)
    if user.role == Role.AGENCY:
        row.dispatches = [d for d in row.dispatches if d.agency_id == user.agency_id]
    return render_template(
        "main/incident.html", row=row, inc=inc, profile=profile, suggested=suggested,
        dispatched=dispatched, agencies=agencies, timeline=incident_svc.timeline(inc),
        can_edit=user.role in INTAKE_ROLES and inc.status != IncidentStatus.CLOSED,
        dispatch_steps=[s for s in DispatchStatus if s.rank >= DispatchStatus.ACKNOWLEDGED.rank],
        dispatch_rank=lambda status: DispatchStatus(status).rank,
        related=incident_svc.related_open_incidents(inc.incident_type, inc.desa, inc.latitude,
                                                    inc.longitude, exclude_id=inc.id),
    )


@bp.route("/incidents/<incident_id>/edit", methods=["GET", "POST"])
@roles_required(*INTAKE_ROLES)
def edit(incident_id: str):
    """Correct the intake fields of an open case; the timeline records what changed."""
    user = current_user()
    inc = _incident_or_404(user, incident_id)
    values = {f: getattr(inc, f) for f in incident_svc.INTAKE_FIELDS}
    errors: dict = {}
    if request.method == "POST":
        values = form_data()
        try:
            incident_svc.update_incident(user, incident_id, values)
        except ValidationError as exc:
            errors = field_errors(exc)
        except ServiceError as exc:
            flash_error(exc)
            return _back(incident_id)
        else:
            flash(translate("Data kasus disimpan"), "info")
            return _back(incident_id)
    if values.get("four_wheel_access") is not None and not isinstance(values["four_wheel_access"], str):
        values["four_wheel_access"] = "ya" if values["four_wheel_access"] else "tidak"
    return render_template("main/edit.html", inc=inc, profile=active_profile(), values=values, errors=errors,
                           conditions=list(VictimCondition)), 422 if errors else 200


def _back(incident_id: str, anchor: str = ""):
    return redirect(url_for("main.incident", incident_id=incident_id) + anchor)


@bp.route("/incidents/<incident_id>/dispatch", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def dispatch(incident_id: str):
    data = form_data()
    try:
        created = incident_svc.dispatch_agencies(current_user(), incident_id, data.get("agencies") or [],
                                                 data.get("channel") or "app")
    except ServiceError as exc:
        flash_error(exc)
        return _back(incident_id, "#dispatch")
    flash(translate("{n} instansi dihubungi", n=len(created)), "info")
    return _back(incident_id)


@bp.route("/incidents/<incident_id>/note", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def note(incident_id: str):
    try:
        incident_svc.add_note(current_user(), incident_id, form_data())
    except ServiceError as exc:
        flash_error(exc)
    return _back(incident_id, "#timeline")


@bp.route("/incidents/<incident_id>/close", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def close(incident_id: str):
    try:
        inc = incident_svc.close_incident(current_user(), incident_id, form_data())
    except ServiceError as exc:
        flash_error(exc)
        return _back(incident_id, "#close")
    flash(translate("Kasus {case_no} ditutup dan diarsipkan", case_no=inc.case_no), "info")
    return redirect(url_for("main.board"))


@bp.route("/dispatches/<dispatch_id>/status", methods=["POST"])
@roles_required(*INTAKE_ROLES)
def dispatch_status(dispatch_id: str):
    """The call-taker records an agency's update received by phone or radio voice."""
    data = form_data()
    try:
        d, _changed = dispatch_svc.update_status(current_user(), dispatch_id, data)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(request.referrer or url_for("main.board"))
    return _back(d.incident_id, "#dispatch")


@bp.route("/sync")
@login_required
def sync_page():
    """This node's sync state; on central, one row per node of the regency."""
    from sync.status import node_status

    return render_template("main/sync.html", status=node_status())


@bp.route("/archive")
@login_required
def archive():
    user = current_user()
    args = request.args.to_dict()
    if "status" not in args:
        args["status"] = IncidentStatus.CLOSED.value
    elif args["status"] == "all":
        args.pop("status")
    errors = {}
    try:
        query = incident_svc.parse_query(args)
        rows, total = incident_svc.search_incidents(user, query)
    except ValidationError as exc:
        errors = field_errors(exc)
        query, rows, total = incident_svc.IncidentQuery(), [], 0
    return render_template("main/archive.html", rows=rows, total=total, query=query, args=request.args,
                           errors=errors, profile=active_profile(), statuses=list(IncidentStatus)), (
        422 if errors else 200)
