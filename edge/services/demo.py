"""The demo node behind `make demo`: a posko with known logins, so a newcomer can try it at once."""

from __future__ import annotations

from pathlib import Path

from edge.db import database_path
from edge.services.calls import classify_call, start_call
from edge.services.incidents import create_incident, dispatch_agencies
from edge.services.node import init_node, open_node
from edge.services.users import create_user, get_user, set_password

DEMO_PASSWORD = "siaga112-demo"
DEMO_USERS = (
    ("operator", "call_taker", None, "Operator Posko"),
    ("supervisor", "supervisor", None, "Supervisor Posko"),
    ("damkar", "agency", "DAMKAR", "Dispatcher Damkar"),
    ("polres", "agency", "POLRES", "Dispatcher Polres"),
    ("dinkes", "agency", "DINKES", "Dispatcher Dinkes"),
    ("bpbd", "agency", "BPBD", "Dispatcher BPBD"),
    ("pusat", "central", None, "Staf Diskominfotik"),
)


SAMPLE_CASES = (
    ("081266112233", {"incident_type": 4, "reporter_name": "Budi", "kecamatan": "Bengkalis", "desa": "Senggoro",
                      "landmark": "Simpang Jl. Antara", "latitude": 1.4669, "longitude": 102.1321, "victims_count": 2,
                      "victims_condition": "injured", "four_wheel_access": True,
                      "situation": "Tabrakan sepeda motor dan mobil bak"}, ["DAMKAR", "DINKES", "DISHUB", "POLRES"]),
    ("085211223344", {"incident_type": 9, "reporter_name": "Ibu Sari", "kecamatan": "Bantan", "desa": "Selatbaru",
                      "address": "RT 02 dekat pelabuhan", "victims_count": 0, "victims_condition": "none",
                      "situation": "Air pasang masuk rumah warga, 15 rumah terendam"}, []),
)


def seed_demo_cases() -> None:
    """Two open cases (one already dispatched) and a prank call, so the board is not empty."""
    operator = get_user("operator")
    for number, fields, agencies in SAMPLE_CASES:
        call = start_call(operator, {"caller_number": number})
        result = create_incident(operator, fields, call_id=call.id)
        if agencies:
            dispatch_agencies(operator, result.incident.id, agencies)
    prank = start_call(operator, {"caller_number": "081300000000"})
    classify_call(operator, prank.id, {"call_type": "prank"})


def ensure_demo_node(data_dir: str | Path) -> list[tuple[str, str, str]]:
    """Create the demo posko once; returns (username, password, role) for every demo login."""
    if not database_path(data_dir).exists():
        result = init_node(data_dir, "posko-demo", "posko", "bengkalis")
        set_password(get_user(result.admin_username), DEMO_PASSWORD)
        for username, role, agency, name in DEMO_USERS:
            create_user(username, role, DEMO_PASSWORD, name, agency)
        seed_demo_cases()
    else:
        open_node(data_dir)
    return [("admin", DEMO_PASSWORD, "admin")] + [(u, DEMO_PASSWORD, r) for u, r, _a, _n in DEMO_USERS]
