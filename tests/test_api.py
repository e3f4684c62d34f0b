"""The JSON API through the real app and SQLite: lifecycle, filters, roles, errors, OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.enums import CallType, Channel, DispatchStatus, IncidentStatus
from edge.models import ApiToken, Call, Dispatch, Event, Incident
from edge.services.profiles import active_profile
from edge.services.users import get_user, issue_token
from edge.timeutil import utcnow, wib_today

API = "/api/v1"
INTAKE = {"incident_type": 3, "desa": "Pematang Duku", "address": "Jl. Sudirman 12",
          "situation": "Rumah terbakar, api besar", "victims_count": 2, "victims_condition": "injured",
          "four_wheel_access": True, "latitude": 1.47, "longitude": 102.1}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Api:
    """A test client speaking JSON with one user's bearer token."""

    def __init__(self, client, token: str | None) -> None:
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body=None, **kw):
        headers = kw.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            kw["json"] = body
        return self.client.open(API + path, method=method, headers=headers, **kw)


@pytest.fixture
def as_user(app):
    def _as(username: str | None) -> Api:
        return Api(app.test_client(), issue_token(get_user(username)) if username else None)

    return _as


@pytest.fixture
def op(as_user) -> Api:
    return as_user("operator")


@pytest.fixture
def spec(app) -> dict:
    return app.test_client().get(API + "/openapi.json").get_json()


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"} and body["message"]
    if code:
        assert body["error"] == code
    return body


def new_incident(op: Api, **fields) -> dict:
    response = op("POST", "/incidents", {**INTAKE, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["incident"]


# --- a minimal checker of answers against the document's schemas ------------------------


def conforms(spec: dict, schema: dict, value, where: str = "$") -> None:
    if "$ref" in schema:
        return conforms(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], value, where)
    if value is None:
        assert schema.get("nullable"), f"{where}: null not allowed"
        return
    for sub in schema.get("allOf", []):
        conforms(spec, sub, value, where)
    kind = schema.get("type")
    python = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict,
              "array": list}
    if kind:
        assert isinstance(value, python[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)), \
            f"{where}: {value!r} is not {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if schema.get("format") == "date-time":
        assert ISO_Z.match(value), f"{where}: {value!r} is not UTC ISO 8601 with Z"
    if kind == "object":
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where}: missing {missing}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                conforms(spec, sub, value[key], f"{where}.{key}")
    if kind == "array":
        for i, item in enumerate(value):
            conforms(spec, schema["items"], item, f"{where}[{i}]")


def conforms_to_op(spec: dict, path: str, method: str, response) -> None:
    answer = spec["paths"][path][method]["responses"][str(response.status_code)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    conforms(spec, answer["content"]["application/json"]["schema"], response.get_json(), f"{method} {path}")


# --- the whole procedure ------------------------------------------------------------------


def test_lifecycle_call_incident_dispatch_agency_updates_close(op, as_user, spec):
    call = op("POST", "/calls", {"caller_number": "0812-3456-7890"})
    assert call.status_code == 201 and call.headers["Location"].endswith(call.get_json()["id"])
    conforms_to_op(spec, "/calls", "post", call)
    call_id = call.get_json()["id"]
    assert Call.get_by_id(call_id).caller_number == "081234567890" and Call.get_by_id(call_id).source == "api"

    created = op("POST", "/incidents", {**INTAKE, "call_id": call_id})
    assert created.status_code == 201
    conforms_to_op(spec, "/incidents", "post", created)
    body = created.get_json()
    inc_id = body["incident"]["id"]
    expected = list(active_profile().suggested_agencies(3))
    assert [a["code"] for a in body["suggested_agencies"]] == expected
    assert all(a["name"] and a["name_en"] for a in body["suggested_agencies"])
    assert body["incident"]["priority"] == active_profile().incident_type(3).priority
    assert body["incident"]["status"] == "recorded" and body["related_open_incidents"] == []
    db_inc = Incident.get_by_id(inc_id)
    assert db_inc.victims_count == 2 and db_inc.four_wheel_access is True and db_inc.recorded_by == "operator"
    assert Call.get_by_id(call_id).incident_id == inc_id and Call.get_by_id(call_id).call_type == "normal"

    sent = op("POST", f"/incidents/{inc_id}/dispatches", {"agencies": ["DAMKAR", "polres"], "channel": "app"})
    assert sent.status_code == 201
    conforms_to_op(spec, "/incidents/{incident_id}/dispatches", "post", sent)
    assert sorted(d["agency"]["code"] for d in sent.get_json()) == ["DAMKAR", "POLRES"]
    assert Incident.get_by_id(inc_id).status == "dispatched"
    again = op("POST", f"/incidents/{inc_id}/dispatches", {"agencies": ["DAMKAR"]})
    assert again.status_code == 201 and again.get_json() == [] and Dispatch.select().count() == 2

    damkar, polres = as_user("damkar"), as_user("polres")
    inbox = damkar("GET", "/agency/dispatches")
    conforms_to_op(spec, "/agency/dispatches", "get", inbox)
    [mine] = inbox.get_json()["items"]
    assert mine["agency"]["code"] == "DAMKAR" and mine["incident"]["id"] == inc_id
    steps = [{"status": "received"}, {"status": "acknowledged"},
             {"status": "prepared", "crew_count": 6, "equipment": "2 mobil pemadam"},
             {"status": "en_route", "channel": "radio"}, {"status": "on_scene"}]
    for step in steps:
        answer = damkar("POST", f"/dispatches/{mine['id']}/status", step)
        assert answer.status_code == 200, answer.get_json()
        conforms_to_op(spec, "/dispatches/{dispatch_id}/status", "post", answer)
    assert answer.get_json()["incident_status"] == "handling"
    repeat = damkar("POST", f"/dispatches/{mine['id']}/status", {"status": "on_scene"})
    assert repeat.status_code == 200 and repeat.get_json()["changed"] is False
    hospital = damkar("POST", f"/dispatches/{mine['id']}/hospital",
                      {"hospital": "RSUD Bengkalis", "victims_to_hospital": 2})
    assert hospital.status_code == 200 and hospital.get_json()["hospital"] == "RSUD Bengkalis"
    back = damkar("POST", f"/dispatches/{mine['id']}/status", {"status": "acknowledged"})
    assert_error(back, 409, "conflict")
    done = damkar("POST", f"/dispatches/{mine['id']}/status", {"status": "finished", "report": "Api padam"})
    assert done.get_json()["dispatch"]["status"] == "finished"
    d = Dispatch.get_by_id(mine["id"])
    assert d.crew_count == 6 and d.victims_to_hospital == 2 and d.finished_at and d.acknowledged_at
    polres_id = Dispatch.get(Dispatch.agency == get_user("polres").agency_id).id
    # The call-taker may record an agency's update received by phone.
    by_phone = op("POST", f"/dispatches/{polres_id}/status", {"status": "finished", "report": "Aman",
                                                               "channel": "phone"})
    assert by_phone.status_code == 200 and by_phone.get_json()["incident_status"] == "finished"
    assert polres("GET", "/agency/dispatches").get_json()["items"] == []

    detail = op("GET", f"/incidents/{inc_id}")
    conforms_to_op(spec, "/incidents/{incident_id}", "get", detail)
    detail = detail.get_json()
    assert {t["key"] for t in detail["timers"]} >= {"receive", "record", "contact", "confirm"}
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds[:2] == ["incident.created", "call.attached"] and "dispatch.finished" in kinds
    assert [c["id"] for c in detail["calls"]] == [call_id]

    note = op("POST", f"/incidents/{inc_id}/notes", {"text": "Keluarga korban dihubungi"})
    assert note.status_code == 201 and note.get_json()["kind"] == "note"
    closed = op("POST", f"/incidents/{inc_id}/close", {"final_report": "Api padam, 2 korban dirawat"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    db_inc = Incident.get_by_id(inc_id)
    assert db_inc.status == "closed" and db_inc.closed_by == "operator" and db_inc.final_report.startswith("Api")
    assert Event.select().where((Event.incident == inc_id) & (Event.kind == "incident.closed")).count() == 1
    assert_error(op("POST", f"/incidents/{inc_id}/close", {"final_report": "lagi"}), 409, "conflict")
    assert_error(op("PATCH", f"/incidents/{inc_id}", {"situation": "x"}), 409)
    assert inc_id not in [row["incident"]["id"] for row in op("GET", "/board").get_json()["items"]]


def test_classify_and_repeat_caller_history(op, spec):
    for _ in range(3):
        call_id = op("POST", "/calls", {"caller_number": "0812999"}).get_json()["id"]
        answer = op("POST", f"/calls/{call_id}/classify", {"call_type": "prank"})
        assert answer.status_code == 200 and answer.get_json()["call_type"] == "prank"
    assert_error(op("POST", f"/calls/{call_id}/classify", {"call_type": "ghost"}), 409, "conflict")
    history = op("GET", "/callers/0812999")
    conforms_to_op(spec, "/callers/{number}", "get", history)
    assert history.get_json()["pranks"] == 3 and history.get_json()["flagged"] is True
    assert op("GET", "/callers/0812000").get_json()["total"] == 0
    assert assert_error(op("GET", "/callers/not-a-number"), 422)["fields"].keys() == {"number"}
    assert assert_error(op("POST", f"/calls/{call_id}/classify", {"call_type": "normal"}), 422)["fields"].keys() \
        == {"call_type"}


def test_related_open_incidents_and_patch(op, spec):
    first = new_incident(op)
    second = op("POST", "/incidents", {**INTAKE, "desa": "pematang duku", "latitude": None, "longitude": None})
    assert [i["id"] for i in second.get_json()["related_open_incidents"]] == [first["id"]]
    patched = op("PATCH", f"/incidents/{first['id']}", {"victims_count": 4, "priority": 2})
    conforms_to_op(spec, "/incidents/{incident_id}", "patch", patched)
    assert Incident.get_by_id(first["id"]).victims_count == 4 and patched.get_json()["priority"] == 2
    assert assert_error(op("PATCH", f"/incidents/{first['id']}", {"latitude": "north"}), 422)["fields"] \
        .keys() == {"latitude"}


def test_incident_filters(op, spec):
    fire = new_incident(op)
    crash = new_incident(op, incident_type=4, desa="Sungai Alam", address="Jl. Lingkar", latitude=None,
                         longitude=None)
    op("POST", f"/incidents/{fire['id']}/close", {"final_report": "Api padam"})

    def ids(query: str) -> list[str]:
        answer = op("GET", "/incidents" + query)
        assert answer.status_code == 200, answer.get_json()
        conforms_to_op(spec, "/incidents", "get", answer)
        return [i["id"] for i in answer.get_json()["items"]]

    assert ids("") == [crash["id"], fire["id"]]
    assert ids("?status=open") == [crash["id"]] and ids("?status=closed") == [fire["id"]]
    assert ids("?type=4") == [crash["id"]] and ids("?type=7") == []
    assert ids("?q=lingkar") == [crash["id"]] and ids("?q=SUDIRMAN") == [fire["id"]]
    today = wib_today()
    assert len(ids(f"?from={today}&to={today}")) == 2
    assert ids(f"?from={today + timedelta(days=1)}") == [] and ids(f"?to={today - timedelta(days=1)}") == []
    page = op("GET", "/incidents?limit=1&offset=1").get_json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [fire["id"]]
    for query, field in (("?status=lost", "status"), ("?type=x", "type"), ("?from=2025-13-01", "from"),
                         ("?to=0001-01-01", "to"), ("?from=0001-01-01", "from"), ("?limit=0", "limit"),
                         ("?offset=-1", "offset")):
        assert field in assert_error(op("GET", "/incidents" + query), 422, "validation_error")["fields"]


# --- roles ----------------------------------------------------------------------------------


def test_agency_sees_and_updates_only_its_own(op, as_user):
    theirs = new_incident(op)
    op("POST", f"/incidents/{theirs['id']}/dispatches", {"agencies": ["POLRES"]})
    polres_dispatch = Dispatch.get().id
    damkar = as_user("damkar")
    assert_error(damkar("GET", f"/incidents/{theirs['id']}"), 404, "not_found")
    assert_error(damkar("GET", f"/dispatches/{polres_dispatch}"), 404)
    assert_error(damkar("POST", f"/dispatches/{polres_dispatch}/status", {"status": "acknowledged"}), 404)
    assert_error(damkar("POST", f"/dispatches/{polres_dispatch}/hospital",
                        {"hospital": "RS", "victims_to_hospital": 1}), 404)
    assert damkar("GET", "/incidents").get_json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert damkar("GET", "/agency/dispatches").get_json()["items"] == []
    assert Dispatch.get().status == "sent"
    # Once dispatched to Damkar too, Damkar sees the case but still only its own dispatch.
    op("POST", f"/incidents/{theirs['id']}/dispatches", {"agencies": ["DAMKAR"]})
    detail = damkar("GET", f"/incidents/{theirs['id']}").get_json()
    assert [d["agency"]["code"] for d in detail["dispatches"]] == ["DAMKAR"]
    assert detail["related_open_incidents"] == []
    polres = as_user("polres")
    assert polres("POST", f"/dispatches/{polres_dispatch}/status", {"status": "acknowledged"}).status_code == 200
    for method, path, body in (("POST", "/incidents", INTAKE), ("POST", "/calls", {}),
                               ("PATCH", f"/incidents/{theirs['id']}", {"situation": "x"}),
                               ("POST", f"/incidents/{theirs['id']}/close", {"final_report": "x"}),
                               ("GET", "/board", None)):
        assert_error(damkar(method, path, body), 403, "forbidden")


def test_central_reads_but_cannot_write(op, as_user):
    inc = new_incident(op)
    op("POST", f"/incidents/{inc['id']}/dispatches", {"agencies": ["DAMKAR"]})
    pusat = as_user("pusat")
    assert pusat("GET", "/incidents").get_json()["total"] == 1
    assert pusat("GET", f"/incidents/{inc['id']}").status_code == 200
    assert pusat("GET", "/board").status_code == 200 and pusat("GET", "/profile").status_code == 200
    for method, path, body in (("POST", "/calls", {}), ("POST", "/incidents", INTAKE),
                               ("POST", f"/incidents/{inc['id']}/dispatches", {"agencies": ["POLRES"]}),
                               ("POST", f"/dispatches/{Dispatch.get().id}/status", {"status": "acknowledged"}),
                               ("POST", f"/incidents/{inc['id']}/close", {"final_report": "x"}),
                               ("GET", "/agency/dispatches", None)):
        assert_error(pusat(method, path, body), 403, "forbidden")
    assert Incident.select().count() == 1 and Dispatch.get().status == "sent"
    assert_error(op("GET", "/agency/dispatches"), 403)


def test_token_required(app, op):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer s112_wrong"}, {"Authorization": "Basic b3A6cHc="},
                    {"Authorization": "Bearer " + "x" * 500}):
        answer = client.get(API + "/incidents", headers=headers)
        assert_error(answer, 401, "unauthorized")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.post(API + "/calls", json={}), 401)
    ApiToken.update(revoked=True).execute()
    assert_error(op("GET", "/me"), 401)
    assert client.get(API + "/openapi.json").status_code == 200


def test_a_used_token_shows_when_it_was_last_used(op):
    assert ApiToken.get().last_used_at is None
    assert op("GET", "/me").status_code == 200
    first = ApiToken.get().last_used_at
    assert first is not None
    assert op("GET", "/me").status_code == 200
    assert ApiToken.get().last_used_at == first  # not a write per request
    ApiToken.update(last_used_at=first - timedelta(minutes=5)).execute()
    assert op("GET", "/me").status_code == 200
    assert ApiToken.get().last_used_at > first - timedelta(minutes=5)


def test_me_and_profile(as_user, spec):
    me = as_user("damkar")("GET", "/me")
    conforms_to_op(spec, "/me", "get", me)
    assert me.get_json()["agency"]["code"] == "DAMKAR"
    profile = as_user("operator")("GET", "/profile")
    conforms_to_op(spec, "/profile", "get", profile)
    assert profile.get_json() == active_profile().to_dict()


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("body, fields", [
    ({"incident_type": "abc", "desa": "X"}, {"incident_type"}),
    ({"incident_type": 77, "desa": "X"}, {"incident_type"}),
    ({"incident_type": 3.5, "desa": "X"}, {"incident_type"}),
    ({"desa": "X"}, {"incident_type"}),
    ({"incident_type": 3}, {"address"}),
    ({"incident_type": 3, "desa": "X", "latitude": 200, "longitude": 102}, {"latitude"}),
    ({"incident_type": 3, "latitude": 1.5}, {"longitude"}),
    ({"incident_type": 3, "desa": ["X"], "victims_count": "many", "four_wheel_access": "maybe",
      "reporter_number": "abc", "victims_condition": "fine", "priority": 9},
     {"desa", "address", "victims_count", "four_wheel_access", "reporter_number", "victims_condition", "priority"}),
    ({"incident_type": True, "desa": "X", "call_id": 5}, {"incident_type", "call_id"}),
    ({"incident_type": 3, "desa": "X", "situation": "a" * 5000}, {"situation"}),
])
def test_bad_intake_names_each_field(op, body, fields):
    answer = assert_error(op("POST", "/incidents", body), 422, "validation_error")
    assert set(answer["fields"]) == fields and all(answer["fields"].values())
    assert Incident.select().count() == 0


def test_bad_input_elsewhere(op):
    inc = new_incident(op)
    for path, body, field in (
        ("/calls", {"caller_number": "12"}, "caller_number"),
        ("/calls", {"rung_at": "yesterday"}, "rung_at"),
        ("/calls", {"rung_at": (utcnow() + timedelta(hours=1)).isoformat() + "Z"}, "rung_at"),
        ("/calls", {"rung_at": "9999-12-31T23:59:59-01:00"}, "rung_at"),
        (f"/incidents/{inc['id']}/dispatches", {"agencies": "NOPE"}, "agencies"),
        (f"/incidents/{inc['id']}/dispatches", {"agencies": []}, "agencies"),
        (f"/incidents/{inc['id']}/dispatches", {"agencies": [1, 2]}, "agencies"),
        (f"/incidents/{inc['id']}/dispatches", {"agencies": ["DAMKAR"], "channel": "pigeon"}, "channel"),
        (f"/incidents/{inc['id']}/notes", {"text": "  "}, "text"),
        (f"/incidents/{inc['id']}/close", {}, "final_report"),
    ):
        assert field in assert_error(op("POST", path, body), 422)["fields"], (path, body)
    op("POST", f"/incidents/{inc['id']}/dispatches", {"agencies": ["DAMKAR"]})
    dispatch_id = Dispatch.get().id
    for body, field in (({"status": "flying"}, "status"), ({"status": "prepared"}, "crew_count"),
                        ({"status": "finished"}, "report"), ({"status": "en_route", "crew_count": -1}, "crew_count")):
        assert field in assert_error(op("POST", f"/dispatches/{dispatch_id}/status", body), 422)["fields"]
    hospital = assert_error(op("POST", f"/dispatches/{dispatch_id}/hospital", {}), 422)["fields"]
    assert set(hospital) == {"hospital", "victims_to_hospital"}
    assert Dispatch.get().status == "sent"


def test_unknown_ids_and_routes(op):
    for method, path, body in (("GET", "/incidents/nope", None), ("PATCH", "/incidents/nope", {"desa": "X"}),
                               ("POST", "/incidents/nope/dispatches", {"agencies": ["DAMKAR"]}),
                               ("POST", "/incidents/nope/close", {"final_report": "x"}),
                               ("POST", "/calls/nope/classify", {"call_type": "ghost"}),
                               ("GET", "/calls/nope", None), ("GET", "/dispatches/nope", None),
                               ("POST", "/dispatches/nope/status", {"status": "acknowledged"}),
                               ("POST", "/incidents", {**INTAKE, "call_id": "nope"}),
                               ("GET", "/no/such/route", None)):
        assert_error(op(method, path, body), 404, "not_found")
    assert_error(op("DELETE", "/incidents"), 405, "method_not_allowed")
    assert Incident.select().count() == 0


@pytest.mark.parametrize("data, content_type, status, code", [
    (b'{"incident_type": 3,', "application/json", 400, "invalid_json"),
    (b'{"incident_type": NaN, "desa": "X"}', "application/json", 400, "invalid_json"),
    (b'{"desa": "\\ud800"}', "application/json", 400, "invalid_json"),
    (b"[" * 30_000 + b"]" * 30_000, "application/json", 400, "invalid_json"),
    (b"\xff\xfe\x00", "application/json", 400, "invalid_json"),
    (b'[{"incident_type": 3}]', "application/json", 422, "validation_error"),
    (b'"text"', "application/json", 422, "validation_error"),
    (b"null", "application/json", 422, "validation_error"),
    (b"incident_type=3&desa=X", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"incident_type": 3, "desa": "X"}', "text/plain", 415, "unsupported_media_type"),
])
def test_malformed_bodies(op, data, content_type, status, code):
    answer = op("POST", "/incidents", data=data, headers={"Content-Type": content_type})
    assert_error(answer, status, code)
    assert Incident.select().count() == 0


def test_oversized_body_is_413(op):
    body = json.dumps({**INTAKE, "situation": "x" * 70_000}).encode()
    assert_error(op("POST", "/incidents", data=body, content_type="application/json"), 413, "payload_too_large")
    assert Incident.select().count() == 0


def test_english_by_default_indonesian_on_request(op):
    ask = {"incident_type": 3}
    english = op("POST", "/incidents", ask).get_json()
    indonesian = op("POST", "/incidents", ask, headers={"Accept-Language": "id"}).get_json()
    assert indonesian["message"] == "Data tidak valid" and indonesian["fields"]["address"].startswith("Isi alamat")
    assert english["fields"].keys() == indonesian["fields"].keys()


scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
intake_keys = st.sampled_from([*INTAKE, "incident_type", "reporter_number", "priority", "call_id", "landmark"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(intake_keys | st.text(max_size=8), json_values, max_size=8))
def test_random_intake_never_500(op, body):
    answer = op("POST", "/incidents", body)
    assert answer.status_code in (201, 404, 422), (body, answer.get_json())


# --- the OpenAPI document -------------------------------------------------------------------


def _spec_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(API):])


def test_openapi_lists_every_route(app, spec):
    assert spec["openapi"] == "3.0.3" and spec["servers"] == [{"url": API}]
    registered = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                registered.add((_spec_path(rule.rule), method.lower()))
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert registered == documented


def test_openapi_structure(app, spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"} and spec["security"] == [{"bearerAuth": []}]
    text = json.dumps(spec)
    for target in re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', text):
        assert target[1] in spec["components"][target[0]], target
    op_ids = []
    for path, ops in spec["paths"].items():
        for method, operation in ops.items():
            op_ids.append(operation["operationId"])
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses)
            if operation.get("security") != []:
                assert "401" in responses
                roles = app.view_functions[_endpoint(app, path, method)].api_roles
                assert set(operation["x-roles"]) == {r.value for r in roles}, path
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(responses)
            if "{" in path:
                assert "404" in responses
    assert len(op_ids) == len(set(op_ids))
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error", "message", "fields"]
    assert schemas["ClassifyInput"]["properties"]["call_type"]["enum"] == [
        c.value for c in (CallType.INFORMATION, CallType.GHOST, CallType.PRANK)]
    assert schemas["Incident"]["properties"]["status"]["enum"] == [s.value for s in IncidentStatus]
    assert schemas["Dispatch"]["properties"]["status"]["enum"] == [s.value for s in DispatchStatus]
    assert schemas["DispatchInput"]["properties"]["channel"]["enum"][:-1] == [c.value for c in Channel]
    assert schemas["IncidentInput"]["properties"]["incident_type"]["enum"] == [
        t.code for t in active_profile().incident_types]


def _endpoint(app, path: str, method: str) -> str:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and _spec_path(rule.rule) == path and method.upper() in rule.methods:
            return rule.endpoint
    raise AssertionError(f"no rule for {method} {path}")


def test_board_lists_open_cases_with_timers(op, as_user, spec):
    inc = new_incident(op)
    board = as_user("supervisor")("GET", "/board")
    conforms_to_op(spec, "/board", "get", board)
    [row] = board.get_json()["items"]
    assert row["incident"]["id"] == inc["id"] and row["timers"] and row["worst"] in ("green", "amber", "red", "ok")
    pending = op("POST", "/calls", {}).get_json()["id"]
    assert pending in [c["id"] for c in op("GET", "/board").get_json()["pending_calls"]]
    detail = op("GET", f"/calls/{pending}")
    conforms_to_op(spec, "/calls/{call_id}", "get", detail)
    assert IncidentStatus.CLOSED.value not in [r["incident"]["status"] for r in board.get_json()["items"]]
