"""The admin keeps the regency's agencies: SMS numbers, radio callsigns, stations, active or
not. Changes are audited and captured for sync, so they reach every node."""

from __future__ import annotations

import json

from edge.models import Agency, Event
from sync.models import SyncChange


def test_admin_edits_an_agency_and_the_change_is_audited_and_captured_for_sync(login):
    client = _admin(login)
    page = client.get("/admin/agencies").get_data(as_text=True)
    assert 'data-code="DAMKAR"' in page and "Callsign radio" in page
    before = SyncChange.select().count()
    response = client.post("/admin/agencies/DAMKAR", {"name": "Damkar Bengkalis", "kind": "fire",
                                                       "phone": "0813 1111 2222", "radio_callsign": "damkr1",
                                                       "station_node": "damkar-1", "active": "1"})
    assert response.status_code == 302
    damkar = Agency.get(Agency.code == "DAMKAR")
    assert (damkar.phone, damkar.radio_callsign, damkar.station_node) == ("081311112222", "DAMKR1", "damkar-1")
    event = Event.get(Event.kind == "agency.update")
    changed = json.loads(event.detail)["changed"]
    assert changed["radio_callsign"] == ["", "DAMKR1"] and changed["phone"][1] == "081311112222"
    captured = [json.loads(c.data) for c in SyncChange.select().where(SyncChange.id > before)
                if c.tbl == "agency"]
    assert any(row.get("radio_callsign") == "DAMKR1" for row in captured), "agency edit not captured for sync"
    # Saving the same values again changes nothing and writes no event.
    client.post("/admin/agencies/DAMKAR", {"name": "Damkar Bengkalis", "kind": "fire", "phone": "081311112222",
                                           "radio_callsign": "DAMKR1", "station_node": "damkar-1", "active": "1"})
    assert Event.select().where(Event.kind == "agency.update").count() == 1


def test_bad_values_are_refused_field_by_field(login):
    client = _admin(login)
    response = client.post("/admin/agencies/DAMKAR", {"name": "", "phone": "12ab", "radio_callsign": "TOOLONGCALL",
                                                       "station_node": "Damkar 1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Wajib diisi", "Nomor telepon tidak valid", "Callsign radio", "ID node"):
        assert message in html
    assert Agency.get(Agency.code == "DAMKAR").phone == ""


def test_an_agency_outside_the_profile_is_added_once_and_can_be_switched_off(login):
    client = _admin(login)
    data = {"code": "puskesmas_bantan", "name": "Puskesmas Bantan", "kind": "health", "phone": "+6281234567890"}
    assert client.post("/admin/agencies", data).status_code == 302
    added = Agency.get(Agency.code == "PUSKESMAS_BANTAN")
    assert added.active and added.phone == "+6281234567890"
    again = client.post("/admin/agencies", data)
    assert again.status_code == 409 and "sudah ada" in again.get_data(as_text=True)
    client.post("/admin/agencies/PUSKESMAS_BANTAN", {"name": "Puskesmas Bantan", "kind": "health"})  # unticked
    assert not Agency.get(Agency.code == "PUSKESMAS_BANTAN").active
    assert Event.select().where(Event.kind.in_(["agency.create", "agency.update"])).count() == 2


def test_only_admins_manage_agencies(login):
    supervisor = login("supervisor")
    assert supervisor.get("/admin/agencies").status_code == 403
    assert supervisor.post("/admin/agencies/DAMKAR", {"name": "x"}).status_code == 403
    assert _admin(login).get("/admin/agencies/NOPE").status_code == 404


def test_the_page_speaks_english_too(login):
    client = _admin(login)
    html = client.get("/admin/agencies?lang=en").get_data(as_text=True)
    assert "Agencies" in html and "Radio callsign" in html


def _admin(login):
    from edge.services.users import create_user
    from tests.conftest import PASSWORD

    create_user("kepala", "admin", PASSWORD, "Admin", None)
    return login("kepala")
