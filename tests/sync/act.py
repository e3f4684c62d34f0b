"""Actions on a node run as a separate process (so a test can kill it, or run it under
faketime with a wrong clock): `python -m tests.sync.act DATA_DIR ACTION JSON_ARGS`.

Actions print one line per committed result, flushed, so the test knows exactly what was
acknowledged before a kill.
"""

from __future__ import annotations

import json
import sys

from edge.db import open_database
from edge.services.calls import start_call
from edge.services.incidents import create_incident, dispatch_agencies, update_incident
from edge.services.users import get_user


def record(user: str, desa: str = "Senggoro", agencies=("DAMKAR", "POLRES")) -> str:
    op = get_user(user)
    call = start_call(op, {"caller_number": "081277001122"})
    result = create_incident(op, {"incident_type": 3, "desa": desa, "kecamatan": "Bengkalis",
                                  "situation": "Rumah terbakar"}, call_id=call.id)
    dispatch_agencies(op, result.incident.id, list(agencies))
    return result.incident.id


def main() -> None:
    data_dir, action, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3] if len(sys.argv) > 3 else "{}")
    open_database(data_dir)
    if action == "record":
        print(record(**args), flush=True)
    elif action == "record_many":
        for i in range(args["n"]):
            print(record(args["user"], desa=f"Desa {i}"), flush=True)
    elif action == "edit":
        update_incident(get_user(args["user"]), args["incident"], args["fields"])
        print("ok", flush=True)
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main()
