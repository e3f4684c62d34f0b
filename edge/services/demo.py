"""The demo node behind `make demo`: a posko with known logins, so a newcomer can try it at once."""

from __future__ import annotations

from pathlib import Path

from edge.db import database_path
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


def ensure_demo_node(data_dir: str | Path) -> list[tuple[str, str, str]]:
    """Create the demo posko once; returns (username, password, role) for every demo login."""
    if not database_path(data_dir).exists():
        result = init_node(data_dir, "posko-demo", "posko", "bengkalis")
        set_password(get_user(result.admin_username), DEMO_PASSWORD)
        for username, role, agency, name in DEMO_USERS:
            create_user(username, role, DEMO_PASSWORD, name, agency)
    else:
        open_node(data_dir)
    return [("admin", DEMO_PASSWORD, "admin")] + [(u, DEMO_PASSWORD, r) for u, r, _a, _n in DEMO_USERS]
