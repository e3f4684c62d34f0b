"""Closed cases made the way operators make them (through the services), for the export tests."""

from __future__ import annotations

from edge.models import Incident
from edge.services import calls as call_svc
from edge.services import dispatches as dispatch_svc
from edge.services import incidents as incident_svc
from edge.services.users import get_user

NUMBER = "081277001122"
NAME = "Budi Santoso"


def closed_case(number: str = NUMBER, name: str = NAME, incident_type: int = 3, *, with_coords: bool = True,
                dead: bool = False, close: bool = True) -> Incident:
    """A fire case (by default) from `number`, dispatched to DAMKAR, handled and closed.

    The situation text repeats the caller's name and number, as operators sometimes write."""
    op = get_user("operator")
    call = call_svc.start_call(op, {"caller_number": number})
    data = {
        "reporter_name": name, "reporter_number": number, "incident_type": incident_type,
        "kecamatan": "Bengkalis", "desa": "Senggoro", "address": "Jl. Pramuka 12", "landmark": "dekat masjid",
        "situation": f"Rumah terbakar, pelapor {name} ({number}) menunggu di depan",
        "initial_handling": "Warga memadamkan dengan ember", "victims_count": 1 if dead else 0,
        "victims_condition": "dead" if dead else "none",
    }
    if with_coords:
        data |= {"latitude": 1.4651, "longitude": 102.1067}
    inc = incident_svc.create_incident(op, data, call_id=call.id).incident
    (dispatch,) = incident_svc.dispatch_agencies(op, inc.id, ["DAMKAR"])
    damkar = get_user("damkar")
    for status in ("acknowledged", "en_route", "on_scene"):
        dispatch_svc.update_status(damkar, dispatch.id, {"status": status})
    dispatch_svc.update_status(damkar, dispatch.id, {"status": "finished", "report": "Api padam, 1 rumah rusak"})
    if close:
        incident_svc.close_incident(op, inc.id, {"final_report": f"Selesai. Pelapor {name} dihubungi kembali."})
    return Incident.get_by_id(inc.id)
