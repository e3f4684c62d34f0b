"""The OpenAPI 3.0.3 document of /api/v1, written as Python data.

Vocabularies (call types, statuses, channels, roles, timer states) come from edge.enums and
the services, never retyped here; incident type codes come from the node's active routing
profile when there is one. Record shapes match edge.api.serialize; roles match the
decorators of edge.api.routes (both are checked by tests/test_api.py).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from edge.api.auth import (
    AGENCY_ROLES,
    ANY_ROLE,
    BOARD_ROLES,
    DISPATCH_UPDATE_ROLES,
    EXPORT_ROLES,
    INTAKE_ROLES,
    MAX_BODY_BYTES,
    READ_ROLES,
)
from edge.enums import (
    NON_ACTIONABLE,
    CallSource,
    CallType,
    Channel,
    DispatchStatus,
    IncidentStatus,
    Role,
    VictimCondition,
)
from edge.profile import Profile
from edge.services.dispatches import AGENCY_STATUSES
from edge.services.sop import TimerState
from edge.services.validation import MAX_LINE, MAX_TEXT

Schema = dict[str, Any]
PHONE_PATTERN = r"^\+?[0-9]{3,20}$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def values(items: Any) -> list:
    return [i.value if isinstance(i, Enum) else i for i in items]


def enum(items: Any, **kw: Any) -> Schema:
    return {"type": "string", "enum": values(items), **kw}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    out = {**schema, "nullable": True}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def obj(props: dict[str, Schema], required: list[str] | None = None, **kw: Any) -> Schema:
    """An object; for answers every property is always present (required defaults to all)."""
    return {"type": "object", "properties": props, "required": list(props) if required is None else required,
            **kw}


def array(items: Schema, **kw: Any) -> Schema:
    return {"type": "array", "items": items, **kw}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with Z"}


def text(max_len: int = MAX_LINE, required: bool = False) -> Schema:
    schema: Schema = {"type": "string", "maxLength": max_len}
    if required:
        schema["pattern"] = r"\S"  # blank is the same as missing
        return schema
    return nullable(schema)


def _record_schemas() -> dict[str, Schema]:
    agency = obj({"code": STR, "name": STR, "name_en": STR, "kind": STR})
    call = obj({
        "id": STR, "node": STR, "caller_number": STR, "rung_at": TIME, "answered_at": nullable(TIME),
        "ended_at": nullable(TIME), "call_type": nullable(enum(CallType)), "call_taker": STR,
        "source": enum(CallSource), "notes": STR, "incident_id": nullable(STR), "created_at": TIME,
        "updated_at": TIME,
    })
    incident = obj({
        "id": STR, "node": STR, "case_no": STR, "reporter_name": STR, "reporter_number": STR,
        "incident_type": INT, "incident_type_name": STR, "incident_type_name_en": STR, "address": STR,
        "kecamatan": STR, "desa": STR, "landmark": STR, "latitude": nullable(NUM), "longitude": nullable(NUM),
        "victims_count": INT, "victims_condition": enum(VictimCondition), "four_wheel_access": nullable(BOOL),
        "initial_handling": STR, "situation": STR, "priority": INT, "status": enum(IncidentStatus),
        "profile_id": STR, "recorded_at": TIME, "recorded_by": STR, "closed_at": nullable(TIME),
        "closed_by": STR, "final_report": STR, "created_at": TIME, "updated_at": TIME,
    })
    dispatch_props = {
        "id": STR, "node": STR, "incident_id": STR, "agency": ref("Agency"), "channel": enum(Channel),
        "status": enum(DispatchStatus), "sent_at": TIME,
        **{s.time_field: nullable(TIME) for s in DispatchStatus if s != DispatchStatus.SENT},
        "crew_count": nullable(INT), "equipment": STR, "hospital": STR, "hospital_at": nullable(TIME),
        "victims_to_hospital": nullable(INT), "report": STR, "sent_by": STR, "created_at": TIME, "updated_at": TIME,
    }
    dispatch = obj(dispatch_props)
    dispatch_with_incident = obj({**dispatch_props, "incident": ref("Incident")})
    event = obj({
        "id": STR, "node": STR, "seq": INT, "incident_id": nullable(STR), "at": TIME, "actor": STR, "kind": STR,
        "detail": {"type": "object", "additionalProperties": True},
    })
    timer = obj({
        "key": STR, "step": INT, "name_id": STR, "name_en": STR, "standard_seconds": INT,
        "start": nullable(TIME), "end": nullable(TIME), "elapsed_seconds": nullable(NUM),
        "state": enum(TimerState), "colour": enum(["pending", "green", "amber", "red"]),
    })
    history = obj({
        "number": STR, "total": INT, "last_24h": INT, "pranks": INT, "ghosts_24h": INT, "normal": INT,
        "last_call_at": nullable(TIME), "flagged": BOOL,
        "flags": array(STR, description="Why to be careful with this number; never a block"),
    })
    profile = obj({
        "profile": obj({"id": STR, "name": STR, "source": STR, "amber_ratio": NUM}),
        "agencies": array(obj({"code": STR, "name_id": STR, "name_en": STR, "kind": STR})),
        "incident_types": array(obj({"code": INT, "name_id": STR, "name_en": STR, "priority": INT,
                                     "agencies": array(STR)})),
        "sop_steps": array(obj({"key": STR, "step": INT, "name_id": STR, "name_en": STR,
                                "standard_seconds": INT})),
    }, description="The active routing profile (matrix of agencies per incident type, SOP time standards)")
    return {
        "Error": obj({
            "error": {"type": "string", "description": "Machine-readable code, e.g. validation_error"},
            "message": {"type": "string", "description": "Human-readable, English unless Accept-Language: id"},
            "fields": {"type": "object", "additionalProperties": STR,
                       "description": "For validation errors: each bad field and what is wrong with it"},
        }),
        "Agency": agency,
        "Call": call,
        "CallerHistory": history,
        "CallDetail": obj({"call": ref("Call"), "caller_history": ref("CallerHistory")}),
        "Incident": incident,
        "Dispatch": dispatch,
        "DispatchWithIncident": dispatch_with_incident,
        "Event": event,
        "Timer": timer,
        "CaseRow": obj({"incident": ref("Incident"), "call": nullable(ref("Call")),
                        "dispatches": array(ref("Dispatch")), "timers": array(ref("Timer")),
                        "worst": enum(TimerState)}),
        "IntakeResult": obj({"incident": ref("Incident"), "suggested_agencies": array(ref("Agency")),
                             "related_open_incidents": array(ref("Incident"))}),
        "IncidentDetail": obj({
            "incident": ref("Incident"), "calls": array(ref("Call")), "dispatches": array(ref("Dispatch")),
            "timers": array(ref("Timer")), "worst": enum(TimerState), "events": array(ref("Event")),
            "suggested_agencies": array(ref("Agency"), description="Profile's agencies not yet dispatched"),
            "related_open_incidents": array(ref("Incident")),
        }),
        "IncidentList": obj({"items": array(ref("Incident")), "total": INT, "limit": INT, "offset": INT}),
        "DispatchUpdate": obj({"dispatch": ref("Dispatch"), "changed": BOOL,
                               "incident_status": enum(IncidentStatus)}),
        "Inbox": obj({"items": array(ref("DispatchWithIncident"))}),
        "Board": obj({"items": array(ref("CaseRow")), "pending_calls": array(ref("Call"))}),
        "Me": obj({"username": STR, "full_name": STR, "role": enum(Role), "agency": nullable(ref("Agency")),
                   "lang": STR}),
        "Profile": profile,
        "CaseRecord": obj({
            "schema": enum(["siaga112-case/1"]), "case_no": STR, "id": STR, "node": STR,
            "privacy": enum(["full", "pseudonymised"]), "incident": ref("Incident"), "calls": array(ref("Call")),
            "dispatches": array(ref("Dispatch")), "sop": array(ref("Timer")), "timeline": array(ref("Event")),
            "generated_at": TIME, "generated_by": STR,
        }, description="One closed case, the central data store's 'data per kasus' (docs/exports.md). "
                       "Pseudonymised: caller numbers are keyed hashes (p-…), names empty."),
        "ClosedCaseFeed": obj({
            "items": array(obj({"position": INT, "record": ref("CaseRecord")})),
            "next_cursor": {"type": "integer", "description": "Pass as `after` to get the next cases"},
            "has_more": BOOL,
        }),
    }


def _input_schemas(profile: Profile | None) -> dict[str, Schema]:
    itype: Schema = {"type": "integer", "minimum": 1, "maximum": 99}
    if profile is not None:
        itype = {"type": "integer", "enum": [t.code for t in profile.incident_types],
                 "description": "; ".join(f"{t.code} {t.name_en or t.name_id}" for t in profile.incident_types)}
    intake = {
        "reporter_name": text(), "reporter_number": nullable({"type": "string", "pattern": PHONE_PATTERN}),
        "incident_type": itype, "address": text(MAX_TEXT), "kecamatan": text(), "desa": text(),
        "landmark": text(), "latitude": nullable({"type": "number", "minimum": -90, "maximum": 90}),
        "longitude": nullable({"type": "number", "minimum": -180, "maximum": 180}),
        "victims_count": nullable({"type": "integer", "minimum": 0, "maximum": 10000}),
        "victims_condition": nullable(enum(VictimCondition)), "four_wheel_access": nullable(BOOL),
        "initial_handling": text(MAX_TEXT), "situation": text(MAX_TEXT),
        "priority": nullable({"type": "integer", "minimum": 1, "maximum": 3,
                              "description": "1 highest; default from the profile's incident type"}),
    }
    where = [{"required": ["address"]}, {"required": ["landmark"]}, {"required": ["desa"]},
             {"required": ["latitude", "longitude"]}]
    channel = nullable(enum(Channel, description="How the update travelled (default app)"))
    return {
        "CallInput": obj({"caller_number": nullable({"type": "string", "pattern": PHONE_PATTERN}),
                          "rung_at": nullable({**TIME, "description": "When the line rang (not in the future)"})},
                         required=[]),
        "ClassifyInput": obj({"call_type": enum(NON_ACTIONABLE), "notes": text(2000)}, required=["call_type"]),
        "LinkInput": obj({"incident_id": text(64, required=True)}, required=["incident_id"]),
        "IncidentInput": obj(
            {**intake, "call_id": text(64)}, required=["incident_type"], anyOf=where,
            description="Intake fields (Bengkalis Lampiran II step 2). Give an address, landmark, desa or "
                        "coordinates; latitude and longitude go together. call_id attaches an answered call."),
        "IncidentPatch": obj({k: v for k, v in intake.items()}, required=[],
                             description="Any intake fields to change; absent fields stay as they are"),
        "DispatchInput": obj({"agencies": array({"type": "string"}, minItems=1, maxItems=50,
                                                description="Agency codes (see GET /profile)"),
                              "channel": channel}, required=["agencies"]),
        "NoteInput": obj({"text": text(MAX_TEXT, required=True)}, required=["text"]),
        "StatusInput": obj({
            "status": enum(AGENCY_STATUSES, description="Moves forward only; repeating one is a no-op"),
            "channel": channel,
            "crew_count": nullable({"type": "integer", "minimum": 0, "maximum": 1000,
                                    "description": "Required with status prepared"}),
            "equipment": text(1000),
            "report": nullable({"type": "string", "maxLength": MAX_TEXT,
                                "description": "Required with status finished"}),
            "hospital": text(200),
            "victims_to_hospital": nullable({"type": "integer", "minimum": 0, "maximum": 10000}),
        }, required=["status"]),
        "HospitalInput": obj({"hospital": text(200, required=True),
                              "victims_to_hospital": {"type": "integer", "minimum": 0, "maximum": 10000},
                              "channel": channel}, required=["hospital", "victims_to_hospital"]),
        "CloseInput": obj({"final_report": text(MAX_TEXT, required=True)}, required=["final_report"]),
    }


def _error(description: str, **extra: Any) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}, **extra}


RESPONSES: dict[str, Schema] = {
    "BadRequest": _error("Malformed JSON body"),
    "Unauthorized": _error("Missing or invalid bearer token", headers={
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge"}}),
    "Forbidden": _error("The user's role may not do this"),
    "NotFound": _error("No such record, or not visible to this user (another agency's)"),
    "Conflict": _error("The record's state does not allow this (closed case, status moving back …)"),
    "PayloadTooLarge": _error(f"Request body over {MAX_BODY_BYTES} bytes"),
    "UnsupportedMediaType": _error("The body is not application/json"),
    "ValidationError": _error("Invalid input; `fields` names each bad field"),
}
ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
               413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "ValidationError"}


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": STR}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def op(op_id: str, summary: str, roles: tuple[Role, ...] | None, ok: int, ok_schema: Schema, *,
       tag: str, params: list[Schema] | None = None, body: str | None = None, body_required: bool = True,
       errors: tuple[int, ...] = (), description: str = "", ok_description: str = "OK") -> Schema:
    """One operation; its error answers follow from what it takes (auth, path ids, a body)."""
    codes = set(errors)
    out: Schema = {"operationId": op_id, "summary": summary, "tags": [tag], "parameters": params or []}
    if roles is None:
        out["security"] = []
    else:
        codes.add(401)
        if set(roles) != set(ANY_ROLE):
            codes.add(403)
        out["x-roles"] = values(roles)
        description = (description + "\n\n" if description else "") + "Roles: " + ", ".join(values(roles)) + "."
    if any(p["in"] == "path" for p in out["parameters"]):
        codes.add(404)
    if body:
        codes.update((400, 413, 415, 422))
        out["requestBody"] = {"required": body_required,
                              "content": {"application/json": {"schema": ref(body)}}}
    if description:
        out["description"] = description
    responses = {str(ok): {"description": ok_description, "content": {"application/json": {"schema": ok_schema}}}}
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/{ERROR_NAMES[code]}"}
    out["responses"] = responses
    return out


def _paths() -> dict[str, Schema]:
    call_id = _path("call_id", "Call id")
    incident_id = _path("incident_id", "Incident id")
    dispatch_id = _path("dispatch_id", "Dispatch id")
    listing = [
        _query("status", enum([*IncidentStatus, "open"]), "A status, or open (every status but closed)"),
        _query("type", {"type": "integer", "minimum": 1, "maximum": 99}, "Incident type code"),
        _query("from", {"type": "string", "format": "date"}, "First day recorded (WIB), YYYY-MM-DD"),
        _query("to", {"type": "string", "format": "date"}, "Last day recorded (WIB), YYYY-MM-DD, inclusive"),
        _query("q", {"type": "string", "maxLength": 100}, "Text in case number, address, names, reports"),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size"),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0}, "Rows to skip"),
    ]
    return {
        "/openapi.json": {"get": op("getOpenapi", "This document", None, 200, {"type": "object"}, tag="meta")},
        "/me": {"get": op("getMe", "The token's user", ANY_ROLE, 200, ref("Me"), tag="meta")},
        "/profile": {"get": op("getProfile", "Active routing profile", ANY_ROLE, 200, ref("Profile"), tag="meta")},
        "/calls": {"post": op(
            "createCall", "Record an answered call", INTAKE_ROLES, 201, ref("Call"), tag="calls",
            body="CallInput", body_required=False, ok_description="Call recorded")},
        "/calls/{call_id}": {"get": op(
            "getCall", "A call and its caller's history", BOARD_ROLES, 200, ref("CallDetail"), tag="calls",
            params=[call_id])},
        "/calls/{call_id}/classify": {"post": op(
            "classifyCall", "Close a non-actionable call (information, ghost, prank)", INTAKE_ROLES, 200,
            ref("Call"), tag="calls", params=[call_id], body="ClassifyInput", errors=(409,))},
        "/calls/{call_id}/link": {"post": op(
            "linkCall", "Attach a further call to an open case", INTAKE_ROLES, 200, ref("Incident"), tag="calls",
            params=[call_id], body="LinkInput", errors=(409,))},
        "/callers/{number}": {"get": op(
            "getCallerHistory", "Repeat-caller history of a number (flags, never a block)", BOARD_ROLES, 200,
            ref("CallerHistory"), tag="calls", errors=(422,),
            params=[_path("number", "Phone number"),
                    _query("exclude_call_id", {"type": "string", "maxLength": 64}, "Leave this call out")])},
        "/incidents": {
            "post": op("createIncident", "Record a case (intake)", INTAKE_ROLES, 201, ref("IntakeResult"),
                       tag="incidents", body="IncidentInput", errors=(404, 409), ok_description="Case recorded",
                       description="Answers the suggested agencies of the profile for the type and open cases "
                                   "of the same type nearby (possible duplicates)."),
            "get": op("listIncidents", "Search cases", READ_ROLES, 200, ref("IncidentList"), tag="incidents",
                      params=listing, errors=(422,), description="Agency users see only cases dispatched to them."),
        },
        "/incidents/{incident_id}": {
            "get": op("getIncident", "A case with dispatches, SOP timers and timeline", READ_ROLES, 200,
                      ref("IncidentDetail"), tag="incidents", params=[incident_id]),
            "patch": op("updateIncident", "Change intake fields of an open case", INTAKE_ROLES, 200,
                        ref("Incident"), tag="incidents", params=[incident_id], body="IncidentPatch",
                        errors=(409,)),
        },
        "/incidents/{incident_id}/dispatches": {"post": op(
            "dispatchAgencies", "Send the case to agencies", INTAKE_ROLES, 201, array(ref("Dispatch")),
            tag="incidents", params=[incident_id], body="DispatchInput", errors=(409,),
            ok_description="The new dispatches (agencies already dispatched are skipped)")},
        "/incidents/{incident_id}/notes": {"post": op(
            "addNote", "Add a note to the timeline", INTAKE_ROLES, 201, ref("Event"), tag="incidents",
            params=[incident_id], body="NoteInput")},
        "/incidents/{incident_id}/close": {"post": op(
            "closeIncident", "Close and archive the case with a final report", INTAKE_ROLES, 200,
            ref("Incident"), tag="incidents", params=[incident_id], body="CloseInput", errors=(409,))},
        "/dispatches/{dispatch_id}": {"get": op(
            "getDispatch", "A dispatch with its case", READ_ROLES, 200, ref("DispatchWithIncident"),
            tag="dispatches", params=[dispatch_id])},
        "/dispatches/{dispatch_id}/status": {"post": op(
            "updateDispatchStatus", "Report an agency's progress", DISPATCH_UPDATE_ROLES, 200,
            ref("DispatchUpdate"), tag="dispatches", params=[dispatch_id], body="StatusInput", errors=(409,),
            description="Agency users update only their own agency's dispatches.")},
        "/dispatches/{dispatch_id}/hospital": {"post": op(
            "recordHospitalTransfer", "Victims taken to a hospital", DISPATCH_UPDATE_ROLES, 200, ref("Dispatch"),
            tag="dispatches", params=[dispatch_id], body="HospitalInput", errors=(409,))},
        "/agency/dispatches": {"get": op(
            "agencyInbox", "The calling agency's dispatches, unacknowledged first", AGENCY_ROLES, 200, ref("Inbox"),
            tag="dispatches", errors=(404, 422), params=[
                _query("include_finished", BOOL, "Also finished dispatches and closed cases"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "Page size")])},
        "/closed-cases": {"get": op(
            "closedCaseFeed", "Closed cases after a cursor, each exactly once", EXPORT_ROLES, 200,
            ref("ClosedCaseFeed"), tag="exports", errors=(422,),
            description="Cases in the order they became closed at this node (a case synced late from an "
                        "offline posko comes after the ones already handed out). Store `next_cursor` and ask "
                        "again with `after`; while `has_more` is true there is more to fetch now. Roles that "
                        "see callers masked always get pseudonymised records.",
            params=[_query("after", {"type": "integer", "minimum": 0, "default": 0}, "Cursor: next_cursor of "
                           "the previous page (0: from the first closed case)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                           "Cases per page"),
                    _query("pseudonymise", BOOL, "Caller numbers as keyed hashes, names dropped")])},
        "/closed-cases/{case}": {"get": op(
            "getClosedCase", "One closed case's record (or its EIDO document)", EXPORT_ROLES, 200,
            {"oneOf": [ref("CaseRecord"), {"type": "object", "description": "EIDO-style document"}]},
            tag="exports", errors=(422,),
            params=[_path("case", "Incident id or case number"),
                    _query("format", enum(["record", "eido"]), "record (default) or eido"),
                    _query("pseudonymise", BOOL, "Caller numbers as keyed hashes, names dropped")])},
        "/board": {"get": op(
            "getBoard", "Open cases with SOP timers, most urgent first", BOARD_ROLES, 200, ref("Board"),
            tag="board")},
    }


def build_spec(profile: Profile | None = None) -> dict[str, Any]:
    """The whole document; `profile` (the active one) narrows incident types to its codes."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Siaga 112 posko API",
            "version": "1.0.0",
            "description": (
                "JSON API of a Siaga 112 node (call-taking, dispatch, agency updates). Authenticate with "
                "`Authorization: Bearer <token>` (`siaga112 user token NAME`). Times are UTC ISO 8601 with Z; "
                "date filters are WIB days. Errors are always the Error schema."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": t} for t in ("meta", "calls", "incidents", "dispatches", "board", "exports")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {**_record_schemas(), **_input_schemas(profile)},
            "responses": RESPONSES,
        },
    }
