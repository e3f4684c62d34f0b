"""JSON shapes of records for the API: one function per record, times as UTC ISO 8601 with Z.

Each shape here is described by a schema of the same name in edge.api.openapi; keep the
two in step (tests/test_api.py checks real answers against the document's required keys).
"""

from __future__ import annotations

import json
from typing import Any

from edge.models import Agency, Call, Dispatch, Event, Incident
from edge.profile import Profile, ProfileError
from edge.services.board import CaseRow
from edge.services.calls import CallerHistory
from edge.services.sop import StepTimer
from edge.timeutil import iso_utc


def agency(a: Agency) -> dict[str, Any]:
    return {"code": a.code, "name": a.name, "name_en": a.name_en or a.name, "kind": a.kind}


def agency_ref(code: str, known: dict[str, Agency], profile: Profile | None = None) -> dict[str, Any]:
    """An agency by code: from the agency directory, else from the profile, else the bare code."""
    if code in known:
        return agency(known[code])
    if profile is not None:
        try:
            spec = profile.agency(code)
        except ProfileError:
            pass
        else:
            return {"code": code, "name": spec.name_id, "name_en": spec.name_en or spec.name_id, "kind": spec.kind}
    return {"code": code, "name": code, "name_en": code, "kind": "other"}


def call(c: Call) -> dict[str, Any]:
    return {
        "id": c.id,
        "node": c.node,
        "caller_number": c.caller_number,
        "rung_at": iso_utc(c.rung_at),
        "answered_at": iso_utc(c.answered_at),
        "ended_at": iso_utc(c.ended_at),
        "call_type": c.call_type,
        "call_taker": c.call_taker,
        "source": c.source,
        "notes": c.notes,
        "incident_id": c.incident_id,
        "created_at": iso_utc(c.created_at),
        "updated_at": iso_utc(c.updated_at),
    }


def caller_history(h: CallerHistory, translate_fn) -> dict[str, Any]:
    return {
        "number": h.number,
        "total": h.total,
        "last_24h": h.last_24h,
        "pranks": h.pranks,
        "ghosts_24h": h.ghosts_24h,
        "normal": h.normal,
        "last_call_at": iso_utc(h.last_call_at),
        "flagged": h.flagged,
        "flags": [translate_fn(flag) for flag in h.flags],
    }


def _type_names(profile: Profile | None, code: int) -> tuple[str, str]:
    if profile is not None:
        try:
            spec = profile.incident_type(code)
        except ProfileError:
            pass
        else:
            return spec.name_id, spec.name_en or spec.name_id
    return str(code), str(code)


def incident(i: Incident, profile: Profile | None = None) -> dict[str, Any]:
    name_id, name_en = _type_names(profile, i.incident_type)
    return {
        "id": i.id,
        "node": i.node,
        "case_no": i.case_no,
        "reporter_name": i.reporter_name,
        "reporter_number": i.reporter_number,
        "incident_type": i.incident_type,
        "incident_type_name": name_id,
        "incident_type_name_en": name_en,
        "address": i.address,
        "kecamatan": i.kecamatan,
        "desa": i.desa,
        "landmark": i.landmark,
        "latitude": i.latitude,
        "longitude": i.longitude,
        "victims_count": i.victims_count,
        "victims_condition": i.victims_condition,
        "four_wheel_access": i.four_wheel_access,
        "initial_handling": i.initial_handling,
        "situation": i.situation,
        "priority": i.priority,
        "status": i.status,
        "profile_id": i.profile_id,
        "recorded_at": iso_utc(i.recorded_at),
        "recorded_by": i.recorded_by,
        "closed_at": iso_utc(i.closed_at),
        "closed_by": i.closed_by,
        "final_report": i.final_report,
        "created_at": iso_utc(i.created_at),
        "updated_at": iso_utc(i.updated_at),
    }


def dispatch(d: Dispatch, with_incident: bool = False, profile: Profile | None = None) -> dict[str, Any]:
    out = {
        "id": d.id,
        "node": d.node,
        "incident_id": d.incident_id,
        "agency": agency(d.agency),
        "channel": d.channel,
        "status": d.status,
        "sent_at": iso_utc(d.sent_at),
        "received_at": iso_utc(d.received_at),
        "acknowledged_at": iso_utc(d.acknowledged_at),
        "prepared_at": iso_utc(d.prepared_at),
        "en_route_at": iso_utc(d.en_route_at),
        "on_scene_at": iso_utc(d.on_scene_at),
        "finished_at": iso_utc(d.finished_at),
        "crew_count": d.crew_count,
        "equipment": d.equipment,
        "hospital": d.hospital,
        "hospital_at": iso_utc(d.hospital_at),
        "victims_to_hospital": d.victims_to_hospital,
        "report": d.report,
        "sent_by": d.sent_by,
        "created_at": iso_utc(d.created_at),
        "updated_at": iso_utc(d.updated_at),
    }
    if with_incident:
        out["incident"] = incident(d.incident, profile)
    return out


def event(e: Event) -> dict[str, Any]:
    try:
        detail = json.loads(e.detail)
    except ValueError:
        detail = {"raw": e.detail}
    return {
        "id": e.id,
        "node": e.node,
        "seq": e.seq,
        "incident_id": e.incident_id,
        "at": iso_utc(e.at),
        "actor": e.actor,
        "kind": e.kind,
        "detail": detail if isinstance(detail, dict) else {"value": detail},
    }


def timer(t: StepTimer) -> dict[str, Any]:
    return {
        "key": t.key,
        "step": t.step,
        "name_id": t.name_id,
        "name_en": t.name_en,
        "standard_seconds": t.standard_seconds,
        "start": iso_utc(t.start),
        "end": iso_utc(t.end),
        "elapsed_seconds": round(t.elapsed_seconds, 3) if t.elapsed_seconds is not None else None,
        "state": t.state.value,
        "colour": t.colour,
    }


def case_row(row: CaseRow, profile: Profile | None = None) -> dict[str, Any]:
    """An open case on the board: the incident, its first call, dispatches and SOP timers."""
    return {
        "incident": incident(row.incident, profile),
        "call": call(row.call) if row.call is not None else None,
        "dispatches": [dispatch(d) for d in row.dispatches],
        "timers": [timer(t) for t in row.timers],
        "worst": row.worst.value,
    }
