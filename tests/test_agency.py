"""The agency station through the real app: inbox + alarm, the status buttons, role separation."""

from __future__ import annotations

import re

import pytest

from edge.models import Dispatch, Event, Incident


def _case(op, **fields) -> Incident:
    """A fire recorded by the operator from a new call (as tests/test_intake_flow.py does)."""
    response = op.post("/calls", {"caller_number": "081234567890"})
    assert response.status_code == 302
    data = {"incident_type": "3", "desa": "Pematang Duku", "kecamatan": "Bengkalis",
            "address": "Jl. Sudirman 12", "landmark": "depan masjid", "latitude": "1.4700",
            "longitude": "102.1000", "situation": "Rumah terbakar, api besar", "victims_count": "2",
            "victims_condition": "injured", "four_wheel_access": "ya"}
    data.update(fields)
    assert op.post(response.location + "/incident", data).status_code == 302
    return Incident.select().order_by(Incident.recorded_at.desc()).first()


def _dispatch(op, incident: Incident, *codes: str) -> dict[str, Dispatch]:
    assert op.post(f"/incidents/{incident.id}/dispatch", {"agencies": list(codes)}).status_code == 302
    return {d.agency.code: d for d in Dispatch.select().where(Dispatch.incident == incident)}


def _fresh(dispatch: Dispatch) -> Dispatch:
    return Dispatch.get_by_id(dispatch.id)


def _kinds(incident: Incident) -> list[str]:
    return [e.kind for e in Event.select().where(Event.incident == incident).order_by(Event.seq)]


def _flashes(page: str) -> list[str]:
    return re.findall(r'<div class="flash flash-\w+"[^>]*>(.*?)</div>', page, re.S)


def _status(client, dispatch: Dispatch, status: str, **fields):
    return client.post(f"/agency/dispatches/{dispatch.id}/status", {"status": status, **fields})


@pytest.fixture
def fire(login):
    """A fire case dispatched to DAMKAR and POLRES; returns (operator, incident, dispatches)."""
    op = login("operator")
    incident = _case(op)
    return op, incident, _dispatch(op, incident, "DAMKAR", "POLRES")


def test_inbox_shows_new_dispatch_with_alarm_and_stamps_received(login, fire):
    _op, incident, sent = fire
    assert _fresh(sent["DAMKAR"]).status == "sent" and _fresh(sent["DAMKAR"]).received_at is None
    damkar = login("damkar")
    response = damkar.get("/agency/inbox")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert incident.case_no in page
    assert 'data-new-dispatches="1"' in page
    assert "1 penugasan baru" in page and 'class="alert-banner"' in page
    assert 'class="card inbox-item new"' in page
    # The facts an agency needs to move out.
    for text in ("Pematang Duku", "Bengkalis", "Jl. Sudirman 12", "depan masjid", "1.47000, 102.10000",
                 "Rumah terbakar, api besar", "luka-luka", "WIB", f'/incidents/{incident.id}"'):
        assert text in page, text
    # The polled fragment: htmx every 5 s, marked as passive polling.
    assert re.search(r'hx-get="/agency/inbox/new"[^>]*hx-trigger="every 5s"[^>]*data-poll', page)
    assert "style=" not in page.split("<main>")[1]  # CSP: no inline styles in the inbox
    damkar_dispatch = _fresh(sent["DAMKAR"])
    assert damkar_dispatch.status == "received" and damkar_dispatch.received_at is not None
    assert _fresh(sent["POLRES"]).status == "sent"  # only the viewing agency's dispatch
    assert _kinds(incident).count("dispatch.received") == 1
    # Polling again neither duplicates the event nor silences the alarm until "Diterima".
    fragment = damkar.get("/agency/inbox/new", headers={"HX-Request": "true", "X-Siaga-Poll": "1"})
    assert 'data-new-dispatches="1"' in fragment.get_data(as_text=True)
    assert _kinds(incident).count("dispatch.received") == 1


def test_whole_flow_updates_dispatch_incident_and_timeline(login, fire):
    _op, incident, sent = fire
    damkar, polres = login("damkar"), login("polres")
    d = sent["DAMKAR"]
    damkar.get("/agency/inbox")

    assert _status(damkar, d, "acknowledged").status_code == 302
    row = _fresh(d)
    assert row.status == "acknowledged" and row.acknowledged_at is not None
    page = damkar.get("/agency/inbox").get_data(as_text=True)
    assert 'data-new-dispatches="0"' in page and "alert-banner" not in page
    assert f'id="d-{d.id}"' in page and 'name="crew_count"' in page  # now among the handled ones

    _status(damkar, d, "prepared", crew_count="6", equipment="1 mobil pemadam, APAR")
    row = _fresh(d)
    assert (row.status, row.crew_count, row.equipment) == ("prepared", 6, "1 mobil pemadam, APAR")
    assert row.prepared_at is not None and Incident.get_by_id(incident.id).status == "dispatched"

    _status(damkar, d, "en_route")
    assert _fresh(d).en_route_at is not None
    assert Incident.get_by_id(incident.id).status == "handling"

    _status(damkar, d, "on_scene")
    assert _fresh(d).on_scene_at is not None

    response = damkar.post(f"/agency/dispatches/{d.id}/hospital",
                           {"hospital": "RSUD Bengkalis", "victims_to_hospital": "2"})
    assert response.status_code == 302
    row = _fresh(d)
    assert (row.hospital, row.victims_to_hospital, row.status) == ("RSUD Bengkalis", 2, "on_scene")
    assert row.hospital_at is not None

    _status(damkar, d, "finished", report="Api padam pukul 10.40, 2 korban ke RSUD")
    row = _fresh(d)
    assert row.status == "finished" and row.finished_at is not None
    assert row.report == "Api padam pukul 10.40, 2 korban ke RSUD"
    # POLRES has not finished yet, so the case is still being handled.
    assert Incident.get_by_id(incident.id).status == "handling"
    inbox = damkar.get("/agency/inbox").get_data(as_text=True)
    assert f'id="d-{d.id}"' not in inbox  # finished ones leave the inbox …
    assert f'id="d-{d.id}"' in damkar.get("/agency/inbox?all=1").get_data(as_text=True)  # … unless asked

    # POLRES jumps straight to finished (skipped steps are allowed, never backwards).
    polres.get("/agency/inbox")
    _status(polres, sent["POLRES"], "acknowledged")
    _status(polres, sent["POLRES"], "finished", report="Lokasi diamankan")
    assert Incident.get_by_id(incident.id).status == "finished"

    kinds = _kinds(incident)
    for kind in ("dispatch.received", "dispatch.acknowledged", "dispatch.prepared", "dispatch.en_route",
                 "dispatch.on_scene", "dispatch.hospital", "dispatch.finished"):
        assert kind in kinds, kind
    assert kinds.count("dispatch.finished") == 2
    damkar_events = [e for e in Event.select().where(Event.incident == incident).order_by(Event.seq)
                     if e.actor == "damkar"]
    assert [e.kind for e in damkar_events] == [
        "dispatch.received", "dispatch.acknowledged", "dispatch.prepared", "dispatch.en_route",
        "dispatch.on_scene", "dispatch.hospital", "dispatch.finished"]
    # The timeline on the case page shows the agency's report.
    case_page = damkar.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Api padam pukul 10.40" in case_page and 'data-kind="dispatch.hospital"' in case_page


def test_only_forward_actions_are_offered(login, fire):
    _op, _incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]

    def actions() -> list[str]:
        page = damkar.get("/agency/inbox").get_data(as_text=True)
        card = page.split(f'id="d-{d.id}"')[1].split("</article>")[0]
        return re.findall(r'data-action="(\w+)"', card)

    assert actions() == ["acknowledged"]  # a new dispatch: only "Diterima"
    _status(damkar, d, "acknowledged")
    assert actions() == ["prepared", "en_route", "on_scene", "finished"]
    _status(damkar, d, "en_route")
    assert actions() == ["on_scene", "hospital", "finished"]
    _status(damkar, d, "on_scene")
    assert actions() == ["hospital", "finished"]


def test_moving_backwards_is_refused_with_message(login, fire):
    _op, incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]
    damkar.get("/agency/inbox")
    _status(damkar, d, "acknowledged")
    _status(damkar, d, "on_scene")
    before = _fresh(d)
    events_before = _kinds(incident)

    response = _status(damkar, d, "en_route")
    assert response.status_code == 302
    page = damkar.get(response.location).get_data(as_text=True)
    assert any("tidak bisa mundur" in f for f in _flashes(page)), _flashes(page)
    after = _fresh(d)
    assert after.status == "on_scene" and after.en_route_at == before.en_route_at
    assert after.updated_at == before.updated_at
    assert _kinds(incident) == events_before


def test_damkar_cannot_see_or_touch_polres_dispatch(login, fire):
    _op, incident, sent = fire
    polres_dispatch = sent["POLRES"]
    damkar = login("damkar")
    page = damkar.get("/agency/inbox").get_data(as_text=True)
    assert polres_dispatch.id not in page and 'data-new-dispatches="1"' in page  # its own only
    events_before = _kinds(incident)
    for url, data in ((f"/agency/dispatches/{polres_dispatch.id}/status", {"status": "acknowledged"}),
                      (f"/agency/dispatches/{polres_dispatch.id}/hospital",
                       {"hospital": "RSUD", "victims_to_hospital": "1"})):
        assert damkar.post(url, data).status_code == 404
    row = _fresh(polres_dispatch)
    assert row.status == "sent" and row.acknowledged_at is None and row.hospital == ""
    assert _kinds(incident) == events_before


def test_case_not_dispatched_to_agency_is_hidden(login, fire):
    op, _incident, _sent = fire
    other = _case(op, desa="Senggoro", address="Jl. Pramuka 3")
    _dispatch(op, other, "POLRES")
    damkar = login("damkar")
    assert damkar.get(f"/incidents/{other.id}").status_code == 404
    assert other.case_no not in damkar.get("/agency/inbox?all=1").get_data(as_text=True)
    # and POLRES does see it
    assert login("polres").get(f"/incidents/{other.id}").status_code == 200


def test_non_agency_roles_cannot_open_the_inbox(login, fire):
    _op, _incident, sent = fire
    op = login("operator")
    assert op.get("/agency/inbox").status_code == 403
    assert op.get("/agency/inbox/new").status_code == 403
    assert op.post(f"/agency/dispatches/{sent['DAMKAR'].id}/status", {"status": "acknowledged"}).status_code == 403
    assert _fresh(sent["DAMKAR"]).status == "sent"  # the operator's visit did not mark it received either


def test_missing_csrf_token_is_refused(login, fire):
    _op, incident, sent = fire
    damkar = login("damkar")
    damkar.get("/agency/inbox")
    events_before = _kinds(incident)
    response = damkar.post(f"/agency/dispatches/{sent['DAMKAR'].id}/status",
                           {"status": "acknowledged", "csrf_token": ""})
    assert response.status_code == 400
    response = damkar.post(f"/agency/dispatches/{sent['DAMKAR'].id}/hospital",
                           {"hospital": "RSUD", "victims_to_hospital": "1", "csrf_token": "forged"})
    assert response.status_code == 400
    row = _fresh(sent["DAMKAR"])
    assert row.status == "received" and row.acknowledged_at is None and row.hospital == ""
    assert _kinds(incident) == events_before


@pytest.mark.parametrize(("status", "fields", "message"), [
    ("prepared", {"equipment": "APAR"}, "Isi jumlah personel"),
    ("prepared", {"crew_count": "banyak"}, "jumlah personel"),
    ("finished", {"report": "   "}, "Tulis laporan singkat"),
    ("teleported", {}, "Pilihan tidak dikenal"),
    ("sent", {}, "Pilihan tidak dikenal"),
    ("", {}, "Wajib dipilih"),
])
def test_bad_input_changes_nothing_and_says_why(login, fire, status, fields, message):
    _op, incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]
    damkar.get("/agency/inbox")
    _status(damkar, d, "acknowledged")
    before = _fresh(d)
    events_before = _kinds(incident)
    response = _status(damkar, d, status, **fields)
    assert response.status_code == 302
    page = damkar.get(response.location).get_data(as_text=True)
    assert any(message in f for f in _flashes(page)), _flashes(page)
    after = _fresh(d)
    assert (after.status, after.prepared_at, after.finished_at, after.crew_count, after.equipment, after.report) == (
        "acknowledged", None, None, None, "", "")
    assert after.updated_at == before.updated_at
    assert _kinds(incident) == events_before


def test_hospital_needs_name_and_count(login, fire):
    _op, incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]
    damkar.get("/agency/inbox")
    events_before = _kinds(incident)
    response = damkar.post(f"/agency/dispatches/{d.id}/hospital", {"hospital": "RSUD Mandau"})
    page = damkar.get(response.location).get_data(as_text=True)
    assert any("Wajib diisi" in f for f in _flashes(page)), _flashes(page)
    row = _fresh(d)
    assert row.hospital == "" and row.hospital_at is None
    assert _kinds(incident) == events_before


def test_unknown_dispatch_is_404(login, fire):
    damkar = login("damkar")
    assert damkar.post("/agency/dispatches/does-not-exist/status", {"status": "acknowledged"}).status_code == 404
    assert damkar.post("/agency/dispatches/does-not-exist/hospital",
                       {"hospital": "RSUD", "victims_to_hospital": "1"}).status_code == 404


def test_repeating_a_status_is_a_harmless_no_op(login, fire):
    _op, incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]
    damkar.get("/agency/inbox")
    _status(damkar, d, "acknowledged")
    first = _fresh(d).acknowledged_at
    response = _status(damkar, d, "acknowledged")  # a second click, or a second dispatcher
    page = damkar.get(response.location).get_data(as_text=True)
    assert any("sudah tercatat" in f for f in _flashes(page))
    assert _fresh(d).acknowledged_at == first
    assert _kinds(incident).count("dispatch.acknowledged") == 1


def test_closed_case_leaves_inbox_and_refuses_updates(login, fire):
    op, incident, sent = fire
    damkar = login("damkar")
    d = sent["DAMKAR"]
    assert op.post(f"/incidents/{incident.id}/close", {"final_report": "Laporan palsu"}).status_code == 302
    page = damkar.get("/agency/inbox").get_data(as_text=True)
    assert incident.case_no not in page and 'data-new-dispatches="0"' in page
    # Shown among the finished ones, without actions, and never half-marked.
    page = damkar.get("/agency/inbox?all=1").get_data(as_text=True)
    assert incident.case_no in page and "Kasus ditutup" in page
    assert 'data-action="' not in page.split(f'id="d-{d.id}"')[1].split("</article>")[0]
    assert _fresh(d).status == "sent"
    response = _status(damkar, d, "acknowledged")
    flashes = _flashes(damkar.get(response.location).get_data(as_text=True))
    assert any("sudah ditutup" in f for f in flashes), flashes
    assert _fresh(d).status == "sent"


def test_poll_after_session_end_sends_browser_to_login(login, fire, app):
    damkar = login("damkar")
    with damkar.client.session_transaction() as session:
        session["seen"] = 0  # idle for ages
    response = damkar.get("/agency/inbox/new", headers={"HX-Request": "true", "X-Siaga-Poll": "1"})
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/login")
    assert "data-new-dispatches" not in response.get_data(as_text=True)
