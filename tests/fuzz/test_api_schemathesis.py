"""Schemathesis over the JSON API: every operation of /api/v1/openapi.json, no 5xx, answers as documented.

Why this exists: tests/test_api.py checks the API by hand-written cases (and one hypothesis
test of the intake body). Here schemathesis reads the node's own OpenAPI document and generates
requests for every operation, valid ones (to reach deep into the views) and invalid ones
(wrong types, missing fields, out-of-range values), as each role. Checks: not_a_server_error
(never a 5xx) and response_schema_conformance / status_code_conformance (what comes back is
what the document promises). The node is a real one (tests/conftest.py `node`), seeded with a
few calls, cases and dispatches so that ids 1..3 exist.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from edge.services.users import get_user, issue_token  # noqa: E402
from tests.fuzz.profile import examples  # noqa: E402

API = "/api/v1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PER_OPERATION = examples(short=8, long=300)
INTAKE = {"incident_type": 3, "desa": "Pematang Duku", "address": "Jl. Sudirman 12",
          "situation": "Rumah terbakar, api besar", "victims_count": 2, "victims_condition": "injured",
          "four_wheel_access": True, "latitude": 1.47, "longitude": 102.1}
USERS = ("operator", "supervisor", "damkar", "pusat")


def _seed(client, token: str) -> dict[str, list[str]]:
    """Calls, cases and dispatches; path parameter name -> the ids (or numbers) that exist."""
    headers = {"Authorization": f"Bearer {token}"}
    known: dict[str, list[str]] = {"call_id": [], "incident_id": [], "dispatch_id": [], "case": [], "number": []}
    for i in range(3):
        number = f"08123456780{i}"
        call = client.post(API + "/calls", json={"caller_number": number}, headers=headers)
        assert call.status_code == 201, call.get_json()
        created = client.post(API + "/incidents", json={**INTAKE, "call_id": call.get_json()["id"]}, headers=headers)
        assert created.status_code == 201, created.get_json()
        incident = created.get_json()["incident"]
        sent = client.post(f"{API}/incidents/{incident['id']}/dispatches", json={"agencies": ["DAMKAR"]},
                           headers=headers)
        assert sent.status_code == 201, sent.get_json()
        known["call_id"].append(call.get_json()["id"])
        known["incident_id"].append(incident["id"])
        known["case"] += [incident["id"], incident["case_no"]]
        known["dispatch_id"] += [d["id"] for d in sent.get_json()]
        known["number"].append(number)
    return known


@pytest.fixture
def api(app):
    tokens = {name: issue_token(get_user(name), label="schemathesis") for name in USERS}
    known = _seed(app.test_client(), tokens["operator"])
    schema = schemathesis.openapi.from_wsgi(API + "/openapi.json", app)
    return schema, tokens, known


def _run_operation(operation, token: str, mode: GenerationMode, known: dict[str, list[str]]) -> None:
    @settings(PER_OPERATION, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), record=st.integers(0, 7))
    def run(case, record: int) -> None:
        if case.path_parameters and record:  # mostly aim at a seeded record, not always at a 404
            case.path_parameters = {name: known[name][record % len(known[name])] if name in known else value
                                    for name, value in case.path_parameters.items()}
        if record and isinstance(case.body, dict):  # and at real records inside bodies too
            if "incident_id" in case.body:
                case.body["incident_id"] = known["incident_id"][record % 3]
            if "agencies" in case.body:
                case.body["agencies"] = ["DAMKAR", "POLRES", "DINKES"][: record % 3 + 1]
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS if mode is GenerationMode.POSITIVE else CHECKS[:1],
                               headers=headers)

    run()


@pytest.mark.parametrize("user", USERS)
def test_every_operation_answers_without_5xx(api, user: str) -> None:
    schema, tokens, known = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(operation, tokens[user], mode, known)
