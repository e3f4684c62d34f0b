"""A node's writer process for the fault drills: one JSON request per stdin line, one JSON answer per line.

Why it exists: the drills need the writes of a node to run in a process of their own, like the
node's web server: it can be killed -9 in the middle of a request, and run under libfaketime
with a wrong wall clock (the capture triggers take their HLC from SQLite's clock in the writing
process). An answer line is written only after the service function returned, i.e. after the
commit: an operation is *acknowledged* exactly when its answer arrived.

    python -m tests.faults.worker DATA_DIR
    {"op": "create", "user": "op-a", "kecamatan": "Bantan", "address": "Jl. 1", "agencies": ["DAMKAR"]}
    -> {"ok": true, "incident": "...", "call": "...", "dispatches": {"DAMKAR": "..."}}

An answer is {"ok": false, "outcome": "refused"|"failed", "error": "..."}: `refused` when the service
said no (validation, conflict: nothing was written), `failed` for anything else (e.g. disk full).
"""

from __future__ import annotations

import json
import sys
import traceback

from edge.db import open_database
from edge.enums import DispatchStatus, IncidentStatus
from edge.models import Agency, Dispatch, Incident
from edge.services.calls import start_call
from edge.services.dispatches import update_status
from edge.services.errors import Conflict, NotFound, ServiceError
from edge.services.incidents import close_incident, create_incident, dispatch_agencies, update_incident
from edge.services.users import get_user

REFUSED = ServiceError
# What a station answers next, from the current status (crew_count / report where the step needs them).
NEXT_STATUS = {
    "sent": ("acknowledged", {}),
    "received": ("acknowledged", {}),
    "acknowledged": ("prepared", {"crew_count": 4, "equipment": "1 unit pemadam"}),
    "prepared": ("en_route", {}),
    "en_route": ("on_scene", {}),
    "on_scene": ("finished", {"report": "Api padam, tidak ada korban"}),
}


def op_create(req: dict) -> dict:
    user = get_user(req["user"])
    call = start_call(user, {"caller_number": req.get("caller", "081277001122")})
    result = create_incident(user, {"incident_type": req.get("incident_type", 3), "desa": req.get("desa", "Senggoro"),
                                    "kecamatan": req["kecamatan"], "address": req["address"],
                                    "situation": "Latihan gangguan"}, call_id=call.id)
    out = {"incident": result.incident.id, "call": call.id, "dispatches": {}}
    if req.get("agencies"):
        created = dispatch_agencies(user, result.incident.id, req["agencies"])
        out["dispatches"] = {d.agency.code: d.id for d in created}
    return out


def op_dispatch(req: dict) -> dict:
    created = dispatch_agencies(get_user(req["user"]), req["incident"], req["agencies"])
    return {"dispatches": {d.agency.code: d.id for d in created}}


def op_answer(req: dict) -> dict:
    """The station moves one dispatch a step forward (or to req['status'])."""
    current = Dispatch.get_by_id(req["dispatch"]).status
    if current == "finished":
        raise Conflict("Penugasan sudah selesai")
    status, extra = NEXT_STATUS[current]
    dispatch, changed = update_status(get_user(req["user"]), req["dispatch"], {"status": status, **extra})
    return {"status": dispatch.status, "changed": changed}


def op_close(req: dict) -> dict:
    incident = close_incident(get_user(req["user"]), req["incident"], {"final_report": "Selesai (latihan)"})
    return {"status": incident.status}


def op_edit(req: dict) -> dict:
    """Edit the address; answers with the address this node held before (for causality checks)."""
    row = Incident.get_or_none(Incident.id == req["incident"])
    if row is None:
        raise NotFound("Kasus tidak ditemukan")
    before = row.address
    update_incident(get_user(req["user"]), req["incident"], {"address": req["address"]})
    return {"before": before}


def op_address(req: dict) -> dict:
    row = Incident.get_or_none(Incident.id == req["incident"])
    return {"address": row.address if row else None, "status": row.status if row else None}


def op_inbox(req: dict) -> dict:
    """Open dispatches of an agency held here (a station's inbox, without marking anything)."""
    agency = Agency.get(Agency.code == req["agency"])
    rows = (Dispatch.select(Dispatch.id, Dispatch.status).join(Incident)
            .where((Dispatch.agency == agency) & (Dispatch.status != DispatchStatus.FINISHED)
                   & (Incident.status != IncidentStatus.CLOSED)).tuples())
    return {"dispatches": [[i, s] for i, s in rows]}


def op_ping(_req: dict) -> dict:
    return {}


OPS = {"create": op_create, "dispatch": op_dispatch, "answer": op_answer, "close": op_close, "edit": op_edit,
       "address": op_address, "inbox": op_inbox, "ping": op_ping}


def handle(req: dict) -> dict:
    try:
        return {"ok": True, **OPS[req["op"]](req)}
    except REFUSED as exc:
        return {"ok": False, "outcome": "refused", "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # noqa: BLE001 - every failure is an answer; the drill counts them
        return {"ok": False, "outcome": "failed", "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(limit=3)}


def main() -> None:
    db = open_database(sys.argv[1])
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            with db.connection_context():
                answer = handle(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - e.g. the connection cannot even open on a full disk
            answer = {"ok": False, "outcome": "failed", "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
