"""The station's record of radio/SMS dispatches: one row per dispatch however often it is
heard, answers only forward, and the row steps aside once sync brings the real dispatch."""

from __future__ import annotations

import dataclasses

import pytest

from edge.models import Agency, Dispatch, Incident, OutgoingReply, User
from edge.services import station
from edge.services.errors import Conflict, NotFound
from firmware_bridge.dispatch_format import message_for, parse_reply, render


@pytest.fixture
def dispatched(node, login) -> Dispatch:
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR", "POLRES"], "channel": "radio"})
    return Dispatch.get(Dispatch.agency == Agency.get(Agency.code == "DAMKAR"))


def _message(code: str = "4821", case_no: str = "P-1"):
    return dataclasses.replace(message_for(Incident.get(), code, "KEBAKARAN"), case_no=case_no)


def test_the_same_dispatch_heard_twice_is_one_row_and_another_case_with_the_code_is_another(node, dispatched):
    first, new = station.receive("DAMKAR", "radio", "POSKO1", "112 #4821 ...", _message())
    again, new_again = station.receive("DAMKAR", "sms", "+62811", "112 #4821 ...", _message())
    other, new_other = station.receive("DAMKAR", "radio", "POSKO1", "112 #4821 ...", _message(case_no="P-2"))
    assert (new, new_again, new_other) == (True, False, True)
    assert again.id == first.id and other.id != first.id and again.channel == "radio"


def test_answers_move_forward_only_and_queue_a_reply_on_the_channel_it_came_on(node, dispatched):
    row, _ = station.receive("DAMKAR", "radio", "POSKO1", render(_message(), b"key", max_chars=256), _message())
    damkar = User.get(User.username == "damkar")
    _, changed = station.answer(damkar, row.id, {"status": "en_route", "crew_count": "6"}, node.data_dir)
    assert changed
    reply = OutgoingReply.get()
    assert (reply.channel, reply.dest) == ("radio", "POSKO1")
    parsed = parse_reply(reply.text)
    assert (parsed.code, parsed.action.value, parsed.crew) == ("4821", "en_route", 6) and parsed.auth
    assert station.answer(damkar, row.id, {"status": "en_route"}, node.data_dir)[1] is False
    with pytest.raises(Conflict):
        station.answer(damkar, row.id, {"status": "acknowledged"}, node.data_dir)
    with pytest.raises(NotFound):  # another agency's dispatcher cannot see it
        station.answer(User.get(User.username == "polres"), row.id, {"status": "on_scene"}, node.data_dir)
    assert OutgoingReply.select().count() == 1


def test_the_row_is_linked_once_sync_brings_the_real_dispatch(node, dispatched):
    station.receive("DAMKAR", "radio", "POSKO1", "112 ...", _message(code="1111", case_no="P-9"))
    assert [r.code for r in station.waiting(Agency.get(Agency.code == "DAMKAR"))] == ["1111"]
    real = _message(code=dispatched.code, case_no=Incident.get().case_no)
    row, _ = station.receive("DAMKAR", "radio", "POSKO1", "112 ...", real)
    assert row.dispatch_id == dispatched.id  # the replicated dispatch is already here
    assert [r.code for r in station.waiting(Agency.get(Agency.code == "DAMKAR"))] == ["1111"]
