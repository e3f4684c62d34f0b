"""The call-taker procedure through the real app: call, intake, dispatch, close."""

from __future__ import annotations

import re

from edge.models import Call, Dispatch, Event, Incident


def _new_call(op, number="081234567890") -> str:
    response = op.post("/calls", {"caller_number": number})
    assert response.status_code == 302
    return response.location


def _intake(op, call_url: str, **fields) -> object:
    data = {"incident_type": "3", "desa": "Pematang Duku", "address": "Jl. Sudirman 12",
            "situation": "Rumah terbakar, api besar", "victims_count": "2", "victims_condition": "injured",
            "four_wheel_access": "ya"}
    data.update(fields)
    return op.post(call_url + "/incident", data)


def test_fire_call_recorded_with_suggested_agencies_and_dispatched(login):
    op = login("operator")
    call_url = _new_call(op)
    response = _intake(op, call_url)
    assert response.status_code == 302
    incident = Incident.get()
    assert incident.incident_type == 3 and incident.victims_count == 2 and incident.four_wheel_access is True
    assert incident.priority == 1  # from the profile's default for fires
    call = Call.get()
    assert call.call_type == "normal" and call.incident_id == incident.id
    page = op.get(response.location.split("#")[0]).get_data(as_text=True)
    checked = re.findall(r'name="agencies" value="(\w+)" checked', page)
    assert sorted(checked) == sorted(["DINKES", "DAMKAR", "DISHUB", "SATPOLPP", "POLRES", "PLN", "BPBD"])
    # The call-taker removes PLN and adds BASARNAS before sending.
    chosen = [c for c in checked if c != "PLN"] + ["BASARNAS"]
    assert op.post(f"/incidents/{incident.id}/dispatch", {"agencies": chosen}).status_code == 302
    sent = {d.agency.code for d in Dispatch.select()}
    assert sent == set(chosen)
    assert Incident.get().status == "dispatched"
    kinds = [e.kind for e in Event.select().where(Event.incident == incident).order_by(Event.seq)]
    assert kinds[:2] == ["incident.created", "call.attached"] and kinds.count("dispatch.sent") == len(chosen)


def test_dispatching_twice_does_not_duplicate(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["DAMKAR"]})
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["DAMKAR", "POLRES"]})
    assert sorted(d.agency.code for d in Dispatch.select()) == ["DAMKAR", "POLRES"]


def test_prank_classified_in_one_action_and_flagged_after_three(login):
    op = login("operator")
    for _ in range(3):
        url = _new_call(op, "0812999")
        assert op.post(url + "/classify", {"call_type": "prank"}).status_code == 302
    assert Call.select().where(Call.call_type == "prank").count() == 3
    url = _new_call(op, "0812999")
    page = op.get(url).get_data(as_text=True)
    assert 'data-flagged="1"' in page and "iseng: 3" in page
    # Flagged, never blocked: the intake form is still there.
    assert 'id="intake-form"' in page


def test_ghost_call_flags_the_number_for_24_hours(login):
    op = login("operator")
    op.post(_new_call(op, "0813111") + "/classify", {"call_type": "ghost"})
    page = op.get(_new_call(op, "0813111")).get_data(as_text=True)
    assert 'data-flagged="1"' in page


def test_second_call_about_same_fire_is_offered_as_link(login):
    op = login("operator")
    _intake(op, _new_call(op, "0811000001"))
    first = Incident.get()
    call_url = _new_call(op, "0811000002")
    call_id = call_url.rsplit("/", 1)[1]
    hints = op.get(f"/intake/hints?incident_type=3&desa=pematang+duku&call_id={call_id}").get_data(as_text=True)
    assert first.case_no in hints and f"/calls/{call_id}/link/{first.id}" in hints
    # A different type in the same desa is not offered.
    other = op.get(f"/intake/hints?incident_type=4&desa=pematang+duku&call_id={call_id}").get_data(as_text=True)
    assert first.case_no not in other
    assert op.post(f"/calls/{call_id}/link/{first.id}").status_code == 302
    assert Incident.select().count() == 1
    assert Call.get_by_id(call_id).incident_id == first.id


def test_nearby_by_coordinates_within_300_m(login):
    op = login("operator")
    _intake(op, _new_call(op), desa="", address="Hutan", latitude="1.4700", longitude="102.1000")
    near = op.get("/intake/hints?incident_type=3&latitude=1.4720&longitude=102.1000").get_data(as_text=True)
    far = op.get("/intake/hints?incident_type=3&latitude=1.4800&longitude=102.1000").get_data(as_text=True)
    case_no = Incident.get().case_no
    assert case_no in near and case_no not in far  # ~220 m vs ~1.1 km


def test_close_requires_final_report_then_archives(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/close", {"final_report": ""})
    assert Incident.get().status != "closed"
    op.post(f"/incidents/{inc.id}/close", {"final_report": "Api padam, 2 korban dirawat"})
    assert Incident.get().status == "closed"
    archive = op.get("/archive?q=sudirman").get_data(as_text=True)
    assert inc.case_no in archive
    assert inc.case_no not in op.get("/archive?q=tidakada").get_data(as_text=True)
    assert inc.case_no not in op.get("/board").get_data(as_text=True)


def test_edit_records_changed_fields_on_timeline(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    form = op.get(f"/incidents/{inc.id}/edit").get_data(as_text=True)
    assert 'value="Jl. Sudirman 12"' in form
    bad = op.post(f"/incidents/{inc.id}/edit", {"incident_type": "3", "desa": "Pematang Duku", "latitude": "x"})
    assert bad.status_code == 422 and Incident.get().address == "Jl. Sudirman 12"
    ok = op.post(f"/incidents/{inc.id}/edit", {"incident_type": "3", "desa": "Pematang Duku",
                                                "address": "Jl. Sudirman 14", "victims_count": "3", "priority": ""})
    assert ok.status_code == 302
    updated = Incident.get()
    assert updated.address == "Jl. Sudirman 14" and updated.victims_count == 3 and updated.priority == 1
    event = Event.select().where(Event.kind == "incident.updated").get()
    assert '"address": "Jl. Sudirman 14"' in event.detail


def test_adding_an_agency_to_a_finished_case_reopens_its_status(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["DAMKAR"]})
    damkar = login("damkar")
    d = Dispatch.get()
    damkar.get("/agency/inbox")
    damkar.post(f"/agency/dispatches/{d.id}/status", {"status": "finished", "report": "Padam"})
    assert Incident.get().status == "finished"
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["PLN"]})
    assert Incident.get().status == "handling"  # one agency still has work to do


def test_a_call_cannot_be_linked_to_a_closed_case(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/close", {"final_report": "Selesai"})
    call_url = _new_call(op, "0811999")
    call_id = call_url.rsplit("/", 1)[1]
    op.post(f"/calls/{call_id}/link/{inc.id}")
    assert Call.get_by_id(call_id).incident_id is None


def test_open_case_keeps_the_standards_it_was_recorded_under(login, node):
    from edge.profile import load_profile
    from edge.services.board import load_cases
    from edge.services.profiles import install_profile

    op = login("operator")
    _intake(op, _new_call(op))
    install_profile(load_profile("semarang"))
    _intake(op, _new_call(op, "0811222"), desa="Lain")
    old, new = sorted(Incident.select(), key=lambda i: i.case_no)
    assert (old.profile_id, new.profile_id) == ("bengkalis", "semarang")
    standards = {row.incident.id: {t.key: t.standard_seconds for t in row.timers}
                 for row in load_cases([old, new])}
    assert standards[old.id]["receive"] == 120 and standards[new.id]["receive"] == 30


def test_call_taker_records_an_agency_update_heard_by_radio(login):
    op = login("operator")
    _intake(op, _new_call(op))
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["DAMKAR"]})
    page = op.get(f"/incidents/{inc.id}").get_data(as_text=True)
    assert 'data-relay="DAMKAR"' in page
    d = Dispatch.get()
    op.post(f"/dispatches/{d.id}/status", {"status": "on_scene", "channel": "radio", "report": ""})
    d = Dispatch.get()
    assert d.status == "on_scene" and d.on_scene_at is not None and d.acknowledged_at is None
    event = Event.select().where(Event.kind == "dispatch.on_scene").get()
    assert event.actor == "operator" and '"channel": "radio"' in event.detail
    op.post(f"/dispatches/{d.id}/status", {"status": "finished", "channel": "phone"})  # no report: refused
    assert Dispatch.get().status == "on_scene"
