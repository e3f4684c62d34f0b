"""JSON API views: parse the request, call the same service function as the UI, shape the answer.

No rule of the procedure lives here: validation, visibility (an agency sees only its own
dispatches) and state changes are the services' (edge.services). Roles are checked with
the same role sets as the UI's views (edge.api.auth); the document describing all of
this is edge.api.openapi, served at /api/v1/openapi.json.
"""

from __future__ import annotations

from flask import Response, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from edge.api import bp
from edge.api import serialize as ser
from edge.api.auth import (
    AGENCY_ROLES,
    BOARD_ROLES,
    DISPATCH_UPDATE_ROLES,
    INTAKE_ROLES,
    READ_ROLES,
    api_user,
    body_limit,
    http_exception,
    json_body,
    require,
    service_error,
    tr,
)
from edge.api.openapi import build_spec
from edge.enums import CallSource, Role
from edge.models import Agency, Call
from edge.profile import Profile, ProfileError
from edge.services import calls as call_svc
from edge.services import dispatches as dispatch_svc
from edge.services import incidents as incident_svc
from edge.services.board import load_cases, open_cases
from edge.services.errors import NotFound, ServiceError, ValidationError
from edge.services.profiles import active_profile
from edge.services.validation import Checker


@bp.before_request
def limit_body() -> None:
    request.max_content_length = body_limit()


bp.register_error_handler(ServiceError, service_error)
bp.register_error_handler(HTTPException, http_exception)


def _profile() -> Profile | None:
    try:
        return active_profile()
    except NotFound:
        return None


def _created(payload, location: str | None = None) -> Response:
    response = jsonify(payload)
    response.status_code = 201
    if location:
        response.headers["Location"] = location
    return response


def _agency_refs(codes, profile: Profile | None) -> list[dict]:
    known = {a.code: a for a in Agency.select().where(Agency.code.in_(list(codes)))} if codes else {}
    return [ser.agency_ref(code, known, profile) for code in codes]


def _suggested(profile: Profile | None, incident_type: int) -> list[str]:
    if profile is None:
        return []
    try:
        return list(profile.suggested_agencies(incident_type))
    except ProfileError:
        return []


# --- who am I, profile, spec --------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec(_profile()))


@bp.get("/me")
@require()
def me():
    user = api_user()
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "agency": ser.agency(user.agency) if user.agency_id else None,
        "lang": user.lang,
    }


@bp.get("/profile")
@require()
def profile():
    return active_profile().to_dict()


# --- calls --------------------------------------------------------------------------------


@bp.post("/calls")
@require(*INTAKE_ROLES)
def create_call():
    call = call_svc.start_call(api_user(), json_body(), source=CallSource.API)
    return _created(ser.call(call), url_for("api.get_call", call_id=call.id))


@bp.get("/calls/<call_id>")
@require(*BOARD_ROLES)
def get_call(call_id: str):
    call = call_svc.get_call(call_id)
    history = call_svc.caller_history(call.caller_number, exclude_call_id=call.id)
    return {"call": ser.call(call), "caller_history": ser.caller_history(history, tr)}


@bp.post("/calls/<call_id>/classify")
@require(*INTAKE_ROLES)
def classify_call(call_id: str):
    return ser.call(call_svc.classify_call(api_user(), call_id, json_body()))


@bp.post("/calls/<call_id>/link")
@require(*INTAKE_ROLES)
def link_call(call_id: str):
    check = Checker(json_body())
    incident_id = check.text("incident_id", required=True, max_len=64)
    check.done()
    incident = call_svc.link_call(api_user(), call_id, incident_id)
    return ser.incident(incident, _profile())


@bp.get("/callers/<number>")
@require(*BOARD_ROLES)
def caller_history(number: str):
    check = Checker({"number": number, "exclude_call_id": request.args.get("exclude_call_id")})
    clean = check.phone("number", required=True)
    exclude = check.text("exclude_call_id", max_len=64)
    check.done()
    history = call_svc.caller_history(clean, exclude_call_id=exclude or None)
    return ser.caller_history(history, tr)


# --- incidents ----------------------------------------------------------------------------


@bp.post("/incidents")
@require(*INTAKE_ROLES)
def create_incident():
    data = json_body()
    check = Checker(data)
    call_id = check.text("call_id", max_len=64)
    if check.errors:  # name every bad field at once, the intake fields too
        try:
            incident_svc.validate_intake(data)
        except ValidationError as exc:
            check.errors.update(exc.errors)
        check.done()
    result = incident_svc.create_incident(api_user(), data, call_id=call_id or None)
    profile = _profile()
    inc = result.incident
    return _created(
        {
            "incident": ser.incident(inc, profile),
            "suggested_agencies": _agency_refs(result.suggested_agencies, profile),
            "related_open_incidents": [ser.incident(i, profile) for i in result.related],
        },
        url_for("api.get_incident", incident_id=inc.id),
    )


@bp.get("/incidents")
@require(*READ_ROLES)
def list_incidents():
    query = incident_svc.parse_query(request.args)
    rows, total = incident_svc.search_incidents(api_user(), query)
    profile = _profile()
    return {"items": [ser.incident(i, profile) for i in rows], "total": total,
            "limit": query.limit, "offset": query.offset}


@bp.get("/incidents/<incident_id>")
@require(*READ_ROLES)
def get_incident(incident_id: str):
    user = api_user()
    inc = incident_svc.get_incident(user, incident_id)
    row = load_cases([inc])[0]
    profile = _profile()
    dispatched = {d.agency.code for d in row.dispatches}
    dispatches = row.dispatches
    related: list = []
    if user.role == Role.AGENCY:
        dispatches = [d for d in dispatches if d.agency_id == user.agency_id]
    else:
        related = incident_svc.related_open_incidents(inc.incident_type, inc.desa, inc.latitude, inc.longitude,
                                                      exclude_id=inc.id)
    suggested = [c for c in _suggested(profile, inc.incident_type) if c not in dispatched]
    return {
        "incident": ser.incident(inc, profile),
        "calls": [ser.call(c) for c in inc.calls.order_by(Call.rung_at)],
        "dispatches": [ser.dispatch(d) for d in dispatches],
        "timers": [ser.timer(t) for t in row.timers],
        "worst": row.worst.value,
        "events": [ser.event(e) for e in incident_svc.timeline(inc)],
        "suggested_agencies": _agency_refs(suggested, profile),
        "related_open_incidents": [ser.incident(i, profile) for i in related],
    }


@bp.patch("/incidents/<incident_id>")
@require(*INTAKE_ROLES)
def update_incident(incident_id: str):
    inc = incident_svc.update_incident(api_user(), incident_id, json_body())
    return ser.incident(inc, _profile())


@bp.post("/incidents/<incident_id>/dispatches")
@require(*INTAKE_ROLES)
def dispatch_incident(incident_id: str):
    data = json_body()
    created = incident_svc.dispatch_agencies(api_user(), incident_id, data.get("agencies"), data.get("channel"))
    return _created([ser.dispatch(d) for d in created])


@bp.post("/incidents/<incident_id>/notes")
@require(*INTAKE_ROLES)
def add_note(incident_id: str):
    event = incident_svc.add_note(api_user(), incident_id, json_body())
    return _created(ser.event(event))


@bp.post("/incidents/<incident_id>/close")
@require(*INTAKE_ROLES)
def close_incident(incident_id: str):
    inc = incident_svc.close_incident(api_user(), incident_id, json_body())
    return ser.incident(inc, _profile())


# --- dispatches (agency side) -------------------------------------------------------------


@bp.get("/dispatches/<dispatch_id>")
@require(*READ_ROLES)
def get_dispatch(dispatch_id: str):
    return ser.dispatch(dispatch_svc.get_dispatch(api_user(), dispatch_id), with_incident=True, profile=_profile())


@bp.post("/dispatches/<dispatch_id>/status")
@require(*DISPATCH_UPDATE_ROLES)
def dispatch_status(dispatch_id: str):
    dispatch, changed = dispatch_svc.update_status(api_user(), dispatch_id, json_body())
    return {"dispatch": ser.dispatch(dispatch), "changed": changed, "incident_status": dispatch.incident.status}


@bp.post("/dispatches/<dispatch_id>/hospital")
@require(*DISPATCH_UPDATE_ROLES)
def dispatch_hospital(dispatch_id: str):
    return ser.dispatch(dispatch_svc.hospital_transfer(api_user(), dispatch_id, json_body()))


@bp.get("/agency/dispatches")
@require(*AGENCY_ROLES)
def agency_inbox():
    check = Checker(request.args)
    include_finished = check.boolean("include_finished")
    limit = check.integer("limit", lo=1, hi=500, default=100)
    check.done()
    user = api_user()
    if user.agency_id is None:
        raise NotFound("Instansi tidak ditemukan")
    rows = dispatch_svc.inbox(user.agency, include_finished=bool(include_finished), limit=limit)
    profile = _profile()
    return {"items": [ser.dispatch(d, with_incident=True, profile=profile) for d in rows]}


# --- board ----------------------------------------------------------------------------------


@bp.get("/board")
@require(*BOARD_ROLES)
def board():
    profile = _profile()
    return {
        "items": [ser.case_row(row, profile) for row in open_cases()],
        "pending_calls": [ser.call(c) for c in call_svc.recent_unclassified()],
    }
