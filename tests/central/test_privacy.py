"""Callers' personal data by role: the incident page, the archive, the API, reports and exports
show a call-taker everything and an analyst (or central staff) masked numbers and no names."""

from __future__ import annotations

import json

import pytest

from edge.services import calls as call_svc
from edge.services.privacy import (
    CallerView,
    Scrubber,
    export_view,
    mask_number,
    normalise_number,
    pseudonym,
    view_for,
)
from edge.services.users import create_user, get_user, issue_token
from tests.central.exports_factory import NAME, NUMBER, closed_case
from tests.conftest import PASSWORD

MASKED = "0812****122"


@pytest.fixture(autouse=True)
def analyst(node):
    create_user("analis", "analyst", PASSWORD, "Analis Data")


def test_masking_and_pseudonyms():
    assert mask_number(NUMBER) == MASKED
    assert mask_number("+62 812-7700-1122") == MASKED and mask_number("112") == "****" and mask_number("") == ""
    assert normalise_number("+6281277001122") == NUMBER
    key, other = b"k" * 32, b"o" * 32
    p = pseudonym(NUMBER, key)
    assert p.startswith("p-") and len(p) == 18 and "1122" not in p
    assert pseudonym("+62 812 7700 1122", key) == p  # one caller, one pseudonym, however written
    assert pseudonym("081277001123", key) != p and pseudonym(NUMBER, other) != p
    text = Scrubber(CallerView.MASKED).text(f"Pak {NAME} di 0812-7700-1122, lihat KM 12", [NAME])
    assert text == f"Pak — di {MASKED}, lihat KM 12"
    keep = "kasus posko-a-2026-00001 tgl 2026-11-25 pukul 10.30, 12 korban, NIK 1403012345678901"
    assert Scrubber(CallerView.MASKED).text(keep) == keep
    assert Scrubber(CallerView.MASKED).text("hubungi +62 812 7700 1122 atau 6281277001122") == (
        f"hubungi {MASKED} atau {MASKED}")


def test_views_by_role():
    assert [view_for(r) for r in ("call_taker", "supervisor", "admin", "agency", "central", "analyst", None)] == [
        "full", "full", "full", "contact", "masked", "masked", "masked"]
    assert export_view("supervisor") == "full" and export_view("supervisor", True) == "pseudonymised"
    assert export_view("analyst") == export_view("analyst", False) == export_view("central") == "pseudonymised"


def test_incident_page_and_archive(app, login):
    inc = closed_case()
    staff, analyst = login("operator"), login("analis")
    page = staff.get(f"/incidents/{inc.id}").get_data(as_text=True)
    assert NAME in page and NUMBER in page
    page = analyst.get(f"/incidents/{inc.id}").get_data(as_text=True)
    assert NAME not in page and NUMBER not in page and "77001122" not in page
    assert MASKED in page and "Selesai. Pelapor — dihubungi kembali." in page
    assert NAME in login("supervisor").get("/archive").get_data(as_text=True)
    archive = analyst.get("/archive").get_data(as_text=True)
    assert inc.case_no in archive and NAME not in archive and "Pelapor — dihubungi" in archive
    # an analyst cannot find a case by the caller's name or number either
    assert inc.case_no not in analyst.get("/archive?q=Budi").get_data(as_text=True)
    assert inc.case_no not in analyst.get(f"/archive?q={NUMBER}").get_data(as_text=True)
    assert inc.case_no in staff.get("/archive?q=Budi").get_data(as_text=True)


def test_api_answers(app):
    inc = closed_case()
    client = app.test_client()

    def get(username: str, url: str):
        token = issue_token(get_user(username))
        return client.get(f"/api/v1{url}", headers={"Authorization": f"Bearer {token}"}).get_json()

    full = get("operator", f"/incidents/{inc.id}")
    assert full["incident"]["reporter_name"] == NAME and full["calls"][0]["caller_number"] == NUMBER
    for username in ("analis", "pusat"):
        detail = get(username, f"/incidents/{inc.id}")
        text = json.dumps(detail, ensure_ascii=False)
        assert NAME not in text and NUMBER not in text
        assert detail["incident"]["reporter_number"] == MASKED and detail["incident"]["reporter_name"] == "—"
        listing = get(username, "/incidents?status=closed")
        assert listing["items"][0]["reporter_number"] == MASKED
    agency = get("damkar", f"/incidents/{inc.id}")  # dispatched to DAMKAR: contact kept, call log masked
    assert agency["incident"]["reporter_number"] == NUMBER and agency["calls"][0]["caller_number"] == MASKED


def test_shift_report_top_callers(app, login):
    closed_case()
    assert NUMBER in login("supervisor").get("/reports/shift").get_data(as_text=True)
    page = login("analis").get("/reports/shift").get_data(as_text=True)
    assert NUMBER not in page and MASKED in page
    csv_text = login("analis").get("/reports/shift.csv").get_data(as_text=True)
    assert NUMBER not in csv_text and MASKED in csv_text


def test_exports_for_analyst_are_always_pseudonymised(app, login):
    inc = closed_case()
    staff, analyst = login("supervisor"), login("analis")
    assert NUMBER in staff.get(f"/pusat/ekspor/kasus/{inc.case_no}/record").get_data(as_text=True)
    for url in (f"/pusat/ekspor/kasus/{inc.case_no}/record", f"/pusat/ekspor/kasus/{inc.case_no}/cap",
                f"/pusat/ekspor/kasus/{inc.case_no}/eido", "/pusat/ekspor/unduh?format=csv",
                "/pusat/ekspor/unduh?format=records&pseudonymise=0"):
        body = analyst.get(url).get_data(as_text=True)
        assert NUMBER not in body and NAME not in body and "p-" in body, url
    page = analyst.get("/pusat/ekspor/").get_data(as_text=True)
    assert 'id="forced-pseudonyms"' in page


def test_board_pending_calls(app, login):
    call_svc.start_call(get_user("operator"), {"caller_number": NUMBER})  # answered, not yet classified
    assert NUMBER in login("operator").get("/board").get_data(as_text=True)
    board = login("pusat").get("/board").get_data(as_text=True)
    assert NUMBER not in board and MASKED in board
