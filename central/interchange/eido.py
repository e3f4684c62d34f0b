"""A closed case as an EIDO-style JSON document (NENA Emergency Incident Data Object).

Pure function of a case record (central.interchange.case_record). EIDO describes an incident
as components (each with an `$id` / `componentIdentifier`) that refer to each other with
`{"$ref": id}`: one incident component (tracking
identifier, type, status, priority, timestamps), call components, a location component (civic
address in PIDF-LO terms plus a GeoJSON point), agency components, emergency-resource
(dispatch) components with their status timestamps, and note components (the timeline).
"EIDO-style": the component names follow NENA's EIDO, the values are this system's own
codes where EIDO points to registries we do not use. Timestamps are UTC ISO 8601 with Z.
docs/exports.md lists every field and where it comes from.
"""

from __future__ import annotations

from typing import Any

from central.interchange.vocab import priority_codes, type_codes

PROFILE = "siaga112-eido/1"
STATUS = {"closed": "Closed"}


def ref(component_id: str) -> dict[str, str]:
    """A reference to another component of the same message, EIDO-style: {"$ref": id}."""
    return {"$ref": component_id}


def component(component_id: str, **fields: Any) -> dict[str, Any]:
    """A component: its id as JSON `$id` and as EIDO's `componentIdentifier`, then its fields."""
    return {"$id": component_id, "componentIdentifier": component_id, **fields}


def tracking_id(kind: str, local_id: str, node: str) -> str:
    """NENA-style unique id: urn:emergency:uid:<kind>:<local id>:<element that made it>."""
    return f"urn:emergency:uid:{kind}:{local_id}:{node}.siaga112"


def _location(inc: dict[str, Any]) -> dict[str, Any]:
    civic = {"country": "ID", "A3": inc["kecamatan"], "A4": inc["desa"], "LOC": inc["address"],
             "LMK": inc["landmark"]}
    out: dict[str, Any] = component("location-1", civicAddress={k: v for k, v in civic.items() if v})
    if inc["latitude"] is not None and inc["longitude"] is not None:
        out["geoLocation"] = {"type": "Point", "coordinates": [inc["longitude"], inc["latitude"]]}
    out["locationDescription"] = ", ".join(v for v in (inc["landmark"], inc["desa"], inc["kecamatan"]) if v)
    out["fourWheelAccess"] = inc["four_wheel_access"]
    return out


def _call(c: dict[str, Any], node: str) -> dict[str, Any]:
    return {
        **component(f"call-{c['id']}"),
        "callTrackingIdentifier": tracking_id("callid", c["id"], c["node"] or node),
        "callTypeDescription": c["call_type"],
        "callSource": c["source"],
        "callbackNumber": c["caller_number"],
        "callStartTimeStamp": c["rung_at"],
        "callAnswerTimeStamp": c["answered_at"],
        "callEndTimeStamp": c["ended_at"],
        "callTakerIdentifier": c["call_taker"],
        "notes": c["notes"],
    }


def _agency(a: dict[str, Any]) -> dict[str, Any]:
    return component(f"agency-{a['code']}", agencyIdentifier=a["code"], agencyName=a["name"],
                     agencyNameEnglish=a["name_en"], agencyKind=a["kind"])


def _resource(d: dict[str, Any]) -> dict[str, Any]:
    return {
        **component(f"dispatch-{d['id']}"),
        "agencyReference": ref(f"agency-{d['agency']['code']}"),
        "status": d["status"],
        "channel": d["channel"],
        "dispatchedTimeStamp": d["sent_at"],
        "receivedTimeStamp": d["received_at"],
        "acknowledgedTimeStamp": d["acknowledged_at"],
        "preparedTimeStamp": d["prepared_at"],
        "enRouteTimeStamp": d["en_route_at"],
        "onSceneTimeStamp": d["on_scene_at"],
        "finishedTimeStamp": d["finished_at"],
        "crewCount": d["crew_count"],
        "equipment": d["equipment"],
        "hospital": d["hospital"] or None,
        "hospitalTimeStamp": d["hospital_at"],
        "victimsToHospital": d["victims_to_hospital"],
        "report": d["report"],
    }


def _note_text(detail: dict[str, Any]) -> str:
    for key in ("text", "final_report", "report"):
        if isinstance(detail.get(key), str) and detail[key]:
            return detail[key]
    return ""


def _note(e: dict[str, Any]) -> dict[str, Any]:
    return {
        **component(f"note-{e['id']}"),
        "noteDateTimeStamp": e["at"],
        "noteActionType": e["kind"],
        "noteAuthor": e["actor"],
        "noteText": _note_text(e["detail"]),
        "noteDetail": e["detail"],
        "auditChain": {"node": e["node"], "seq": e["seq"]},
    }


def eido_document(record: dict[str, Any]) -> dict[str, Any]:
    inc = record["incident"]
    codes = type_codes(inc["incident_type"])
    prio = priority_codes(inc["priority"], inc["victims_condition"])
    agencies = {d["agency"]["code"]: d["agency"] for d in record["dispatches"]}
    incident = {
        **component("incident-1"),
        "incidentTrackingIdentifier": tracking_id("incidentid", inc["id"], record["node"]),
        "localIncidentIdentifier": record["case_no"],
        "incidentTypeCommonRegistryText": codes.eido_type,
        "incidentTypeLocal": {"code": inc["incident_type"], "name": inc["incident_type_name"],
                              "nameEnglish": inc["incident_type_name_en"], "profile": inc["profile_id"]},
        "incidentStatusCommonRegistryText": STATUS.get(inc["status"], inc["status"]),
        "incidentPriority": prio.eido_priority,
        "priorityLocal": inc["priority"],
        "incidentCreationTimeStamp": inc["recorded_at"],
        "incidentClosedTimeStamp": inc["closed_at"],
        "lastUpdateTimeStamp": inc["updated_at"],
        "situation": inc["situation"],
        "initialHandling": inc["initial_handling"],
        "finalReport": inc["final_report"],
        "victims": {"count": inc["victims_count"], "condition": inc["victims_condition"]},
        "reportingParty": {"name": inc["reporter_name"], "callbackNumber": inc["reporter_number"]},
        "recordedBy": inc["recorded_by"],
        "closedBy": inc["closed_by"],
        "locationReference": ref("location-1"),
        "callReference": [ref(f"call-{c['id']}") for c in record["calls"]],
        "agencyReference": [ref(f"agency-{code}") for code in agencies],
        "emergencyResourceReference": [ref(f"dispatch-{d['id']}") for d in record["dispatches"]],
        "notesReference": [ref(f"note-{e['id']}") for e in record["timeline"]],
    }
    message_id = tracking_id("eidoid", f"{inc['id']}-{inc['updated_at']}", record["generated_by"])
    return {
        "$id": message_id,
        "eidoMessageIdentifier": message_id,
        "messageKind": "Report",
        "profile": PROFILE,
        "sendingSystemIdentifier": f"{record['generated_by']}.siaga112",
        "originatingSystemIdentifier": f"{record['node']}.siaga112",
        "lastUpdateTimeStamp": inc["updated_at"],
        "generatedTimeStamp": record["generated_at"],
        "privacy": record["privacy"],
        "incidentComponent": [incident],
        "callComponent": [_call(c, record["node"]) for c in record["calls"]],
        "locationComponent": [_location(inc)],
        "agencyComponent": [_agency(a) for a in agencies.values()],
        "emergencyResourceComponent": [_resource(d) for d in record["dispatches"]],
        "sopStepComponent": [
            {"key": t["key"], "step": t["step"], "name": t["name_id"], "nameEnglish": t["name_en"],
             "startTimeStamp": t["start"], "endTimeStamp": t["end"], "elapsedSeconds": t["elapsed_seconds"],
             "standardSeconds": t["standard_seconds"], "state": t["state"]}
            for t in record["sop"]
        ],
        "notesComponent": [_note(e) for e in record["timeline"]],
    }


def filename(record: dict[str, Any]) -> str:
    return f"{record['case_no']}.eido.json"
