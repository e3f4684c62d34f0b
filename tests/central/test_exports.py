"""Closed cases for the national centre: the pull-once feed over the API, the export page's
downloads, per-case files and `siaga112 export`."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.models import Incident
from edge.services.users import create_user, get_user, issue_token
from edge.timeutil import wib_today
from tests.central.exports_factory import NAME, NUMBER, closed_case
from tests.conftest import PASSWORD

TODAY = wib_today().isoformat()


@pytest.fixture(autouse=True)
def analyst(node):
    create_user("analis", "analyst", PASSWORD, "Analis Data")


@pytest.fixture
def api(app):
    def _api(username: str):
        client, token = app.test_client(), issue_token(get_user(username))

        def get(url: str):
            return client.get(f"/api/v1{url}", headers={"Authorization": f"Bearer {token}"})
        return get
    return _api


def _walk(get, limit: int, after: int = 0) -> tuple[list[str], int]:
    seen: list[str] = []
    while True:
        page = get(f"/closed-cases?after={after}&limit={limit}")
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        positions = [item["position"] for item in body["items"]]
        assert positions == sorted(positions) and all(p > after for p in positions)
        seen += [item["record"]["case_no"] for item in body["items"]]
        after = body["next_cursor"]
        if not body["has_more"]:
            return seen, after


def test_feed_hands_out_every_closed_case_once_in_order(app, api):
    cases = [closed_case(number=f"08127700{i:04d}") for i in range(5)]
    open_case = closed_case(close=False)
    get = api("pusat")
    seen, cursor = _walk(get, limit=2)
    assert seen == [c.case_no for c in cases]  # each once, in closing order, the open case never
    assert open_case.case_no not in seen
    assert _walk(get, limit=2, after=cursor) == ([], cursor)  # nothing new: same cursor
    # A case that reaches central late (an island posko back online) with an older closing time
    # still comes next, after the cursor, and only once.
    late = closed_case(number="081299990000")
    Incident.update(closed_at=cases[0].closed_at - timedelta(days=3)).where(Incident.id == late.id).execute()
    seen_late, cursor2 = _walk(get, limit=10, after=cursor)
    assert seen_late == [late.case_no] and cursor2 > cursor
    assert _walk(get, limit=3)[0] == [c.case_no for c in cases] + [late.case_no]


def test_feed_privacy_by_role(app, api):
    closed_case()
    full = api("supervisor")("/closed-cases").get_json()["items"][0]["record"]
    assert full["privacy"] == "full" and full["incident"]["reporter_number"] == NUMBER
    asked = api("supervisor")("/closed-cases?pseudonymise=1").get_json()["items"][0]["record"]
    for username in ("pusat", "analis"):
        rec = api(username)("/closed-cases").get_json()["items"][0]["record"]
        text = json.dumps(rec, ensure_ascii=False)
        assert rec["privacy"] == "pseudonymised" and NUMBER not in text and NAME not in text
        # the same caller, the same pseudonym, whoever asks on this node
        assert rec["incident"]["reporter_number"] == asked["incident"]["reporter_number"]
        assert rec["calls"][0]["caller_number"] == rec["incident"]["reporter_number"]


def test_feed_roles_and_bad_cursor(app, api):
    assert api("operator")("/closed-cases").status_code == 403
    assert api("damkar")("/closed-cases").status_code == 403
    bad = api("pusat")("/closed-cases?after=-1")
    assert bad.status_code == 422 and "after" in bad.get_json()["fields"]


def test_single_case_record_and_eido_over_api(app, api):
    inc = closed_case()
    get = api("admin")
    rec = get(f"/closed-cases/{inc.case_no}").get_json()
    assert rec["schema"] == "siaga112-case/1" and rec["id"] == inc.id
    assert [d["agency"]["code"] for d in rec["dispatches"]] == ["DAMKAR"]
    assert [e["kind"] for e in rec["timeline"]][-1] == "incident.closed"
    doc = get(f"/closed-cases/{inc.id}?format=eido").get_json()
    assert doc["incidentComponent"][0]["localIncidentIdentifier"] == inc.case_no
    assert get("/closed-cases/nope").status_code == 404
    assert get(f"/closed-cases/{closed_case(close=False).id}").status_code == 404  # open: not yet


def test_openapi_lists_the_feed(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    feed = spec["paths"]["/closed-cases"]["get"]
    assert {p["name"] for p in feed["parameters"]} == {"after", "limit", "pseudonymise"}
    assert set(feed["x-roles"]) == {"central", "supervisor", "admin", "analyst"}
    assert "/closed-cases/{case}" in spec["paths"]


def test_export_page_downloads(app, login):
    cases = [closed_case(), closed_case(number="081311112222", name="Siti Aminah", incident_type=1)]
    web = login("supervisor")
    page = web.get(f"/pusat/ekspor/?from={TODAY}&to={TODAY}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-cases="2"' in html
    assert all(f'data-case="{c.case_no}"' in html for c in cases)
    assert f"/pusat/ekspor/kasus/{cases[0].case_no}/eido" in html
    z = web.get(f"/pusat/ekspor/unduh?format=cap&from={TODAY}&to={TODAY}")
    assert z.status_code == 200 and z.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.data)).namelist()
    assert sorted(names) == sorted(f"{c.case_no}.cap.xml" for c in cases)
    docs = web.get(f"/pusat/ekspor/unduh?format=eido&from={TODAY}&to={TODAY}").get_json()
    assert [d["incidentComponent"][0]["localIncidentIdentifier"] for d in docs] == [c.case_no for c in cases]
    lines = web.get(f"/pusat/ekspor/unduh?format=records&from={TODAY}&to={TODAY}").data.decode().splitlines()
    assert [json.loads(line)["case_no"] for line in lines] == [c.case_no for c in cases]
    jsonl = web.get(f"/pusat/ekspor/unduh?format=eido-jsonl&from={TODAY}&to={TODAY}").data.decode().splitlines()
    assert len(jsonl) == 2
    one = web.get(f"/pusat/ekspor/kasus/{cases[0].case_no}/cap")
    assert one.status_code == 200 and b"<alert" in one.data
    assert web.get("/pusat/ekspor/kasus/nope/record").status_code == 404
    bad = web.get(f"/pusat/ekspor/unduh?format=pdf&from={TODAY}&to={TODAY}")
    assert bad.status_code == 422
    assert web.get("/pusat/ekspor/?from=2026-02-30").status_code == 422


def test_pseudonymised_csv_counts_repeat_callers(app, login):
    closed_case()
    closed_case()  # the same caller again
    closed_case(number="081311112222", name="Siti Aminah")
    web = login("supervisor")
    full = web.get(f"/pusat/ekspor/unduh?format=csv&from={TODAY}&to={TODAY}").data.decode("utf-8-sig")
    assert NUMBER in full
    pseudo = web.get(f"/pusat/ekspor/unduh?format=csv&pseudonymise=1&from={TODAY}&to={TODAY}")
    assert "pseudo" in pseudo.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(pseudo.data.decode("utf-8-sig"))))
    callers = [r["caller"] for r in rows]
    assert NUMBER not in pseudo.data.decode() and all(c.startswith("p-") for c in callers)
    assert sorted(callers.count(c) for c in set(callers)) == [1, 2]


def test_export_roles(app, login):
    for username in ("operator", "damkar"):
        assert login(username).get("/pusat/ekspor/").status_code == 403


def test_cli_export(app, node, tmp_path):
    cases = [closed_case(), closed_case(incident_type=1)]
    runner = CliRunner()
    out = tmp_path / "cap.zip"
    result = runner.invoke(main, ["export", "cap", "--from", TODAY, "--to", TODAY, "--out", str(out),
                                  "--data-dir", str(node.data_dir)])
    assert result.exit_code == 0, result.output
    assert "2 closed cases" in result.output
    assert len(zipfile.ZipFile(out).namelist()) == 2
    out = tmp_path / "eido.json"
    result = runner.invoke(main, ["export", "eido", "--from", TODAY, "--to", TODAY, "--out", str(out),
                                  "--pseudonymise", "--data-dir", str(node.data_dir)])
    assert result.exit_code == 0, result.output
    docs = json.loads(out.read_text())
    assert [d["incidentComponent"][0]["localIncidentIdentifier"] for d in docs] == [c.case_no for c in cases]
    assert NUMBER not in out.read_text()
    result = runner.invoke(main, ["export", "eido", "--from", TODAY, "--to", "2000-01-01", "--out", str(out),
                                  "--data-dir", str(node.data_dir)])
    assert result.exit_code == 2 and "to:" in result.output
