"""Caller ID through a real pty: the emulated modem rings, the bridge puts the call on the
board, the call-taker answers and gets the intake form with the number and its history."""

from __future__ import annotations

import time

from edge.models import Call
from edge.services.calls import classify_call, start_call
from edge.services.users import get_user
from firmware_bridge.bridge import Bridge


def wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_ringing_call_reaches_the_board_and_opens_a_prefilled_intake(node, login, modem_emulator):
    op_user = get_user("operator")
    for _ in range(3):  # this number pranked before
        classify_call(op_user, start_call(op_user, {"caller_number": "081277001122"}).id, {"call_type": "prank"})
    bridge = Bridge(node.data_dir, modem_emulator.port, timeout=1.0, poll_interval=0.5, backoff=(0.2, 1.0))
    bridge.start()
    try:
        assert bridge.modem.wait_ready(10)
        modem_emulator.ring("081277001122", times=3, interval=0.3)
        assert wait(lambda: Call.select().where(Call.source == "gsm").count() == 1), "no call from the modem"
        time.sleep(1.0)
        assert Call.select().where(Call.source == "gsm").count() == 1  # three RINGs, one call
        call = Call.get(Call.source == "gsm")
        assert call.caller_number == "081277001122" and call.answered_at is None
        op = login("operator")
        board = op.get("/board").get_data(as_text=True)
        assert 'data-answer="081277001122"' in board
        assert wait(lambda: 'data-modem="ok"' in op.get("/board").get_data(as_text=True)), "modem state not shown"
        answered = op.post(f"/calls/{call.id}/answer")
        assert answered.location.endswith(f"/calls/{call.id}")
        intake = op.get(answered.location).get_data(as_text=True)
        assert 'value="081277001122"' in intake  # number pre-filled
        assert 'data-flagged="1"' in intake and "iseng: 3" in intake  # its history, flagged
        call = Call.get_by_id(call.id)
        assert call.answered_at is not None and call.call_taker == "operator"
        modem_emulator.unplug()  # the header tells the call-taker the GSM line is gone
        assert wait(lambda: 'data-modem="down"' in op.get("/board").get_data(as_text=True)), "unplug not shown"
    finally:
        bridge.stop()


def _fire_dispatched_to_damkar(login):
    from edge.models import Agency, Dispatch, Incident

    Agency.update(phone="081311112222").where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    inc = Incident.get()
    op.post(f"/incidents/{inc.id}/dispatch", {"agencies": ["DAMKAR", "POLRES"], "channel": "sms"})
    return Dispatch.get(Dispatch.agency == Agency.get(Agency.code == "DAMKAR").id)


def test_agency_sms_replies_move_their_dispatch_and_strangers_become_calls(node, login, modem_emulator):
    from edge.models import Dispatch, Event

    damkar = _fire_dispatched_to_damkar(login)
    assert len(damkar.code) == 4 and damkar.code.isdigit()
    bridge = Bridge(node.data_dir, modem_emulator.port, timeout=1.0, poll_interval=0.5, backoff=(0.2, 1.0))
    bridge.start()
    try:
        assert bridge.modem.wait_ready(10)
        modem_emulator.receive_sms("+6281311112222", f"ok {damkar.code}")  # international form of its number
        assert wait(lambda: Dispatch.get_by_id(damkar.id).status == "acknowledged"), "ack by SMS not applied"
        event = Event.get(Event.kind == "dispatch.acknowledged")
        assert event.actor == "sms:DAMKAR" and '"channel": "sms"' in event.detail
        # A forged reply: right code, wrong sender. Nothing moves; it waits for review as a call.
        modem_emulator.receive_sms("081399999999", f"SELESAI {damkar.code}")
        assert wait(lambda: Call.select().where(Call.source == "sms").count() == 1)
        assert Dispatch.get_by_id(damkar.id).status == "acknowledged"
        assert Call.get(Call.source == "sms").notes == f"SELESAI {damkar.code}"
        # The real agency finishes, with victims to hospital.
        modem_emulator.receive_sms("081311112222", f"SELESAI {damkar.code} 2 korban ke RSUD Bengkalis")
        assert wait(lambda: Dispatch.get_by_id(damkar.id).status == "finished")
        done = Dispatch.get_by_id(damkar.id)
        assert done.hospital and "RSUD" in done.hospital.upper() and done.victims_to_hospital == 2
        # Garbage from the agency's own number is not lost either.
        modem_emulator.receive_sms("081311112222", "halo, posko?")
        assert wait(lambda: Call.select().where(Call.source == "sms").count() == 2)
        assert wait(lambda: not modem_emulator.storage), "handled messages are deleted from the SIM"
    finally:
        bridge.stop()


def test_sms_dispatch_is_sent_once_and_its_delivery_report_marks_it_received(node, login, modem_emulator):
    from edge.models import Dispatch, Event

    damkar = _fire_dispatched_to_damkar(login)  # POLRES has no phone: it waits, logged
    bridge = Bridge(node.data_dir, modem_emulator.port, timeout=1.0, poll_interval=0.5, backoff=(0.2, 1.0))
    bridge.poll_seconds = 0.3
    bridge.start()
    try:
        assert bridge.modem.wait_ready(10)
        assert wait(lambda: len(modem_emulator.sent) >= 1), "dispatch SMS not sent"
        sent = modem_emulator.sent[0]
        assert sent.recipient.endswith("81311112222")
        assert f"#{damkar.code}" in sent.text and "KEBAKARAN" in sent.text and "K:" in sent.text
        assert len(sent.text) <= 160
        assert wait(lambda: Dispatch.get_by_id(damkar.id).status == "received"), "delivery report not applied"
        time.sleep(1.0)
        assert len(modem_emulator.sent) == 1  # sent once, not again on the next rounds
        kinds = [e.kind for e in Event.select().order_by(Event.seq)]
        assert "dispatch.transmitted" in kinds and "dispatch.received" in kinds
    finally:
        bridge.stop()


def test_unanswered_network_dispatch_falls_back_to_sms_and_the_answer_counts_once(node, login, modem_emulator,
                                                                                   tmp_path):
    from edge.models import Agency, Dispatch, Event, Incident
    from edge.profile import load_profile
    from edge.services.profiles import install_profile

    fast = tmp_path / "bengkalis.toml"  # same profile, SMS fallback after 1 s instead of 120 s
    fast.write_text('[profile]\nid = "bengkalis"\nextends = "bengkalis"\nfallback_after_seconds = 1\n')
    install_profile(load_profile(fast))
    Agency.update(phone="081311112222").where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "app"})
    damkar = Dispatch.get()
    bridge = Bridge(node.data_dir, modem_emulator.port, timeout=1.0, poll_interval=0.5, backoff=(0.2, 1.0))
    bridge.poll_seconds = 0.3
    bridge.start()
    try:
        assert bridge.modem.wait_ready(10)
        assert wait(lambda: len(modem_emulator.sent) == 1), "no SMS fallback"
        # The modem has the SMS a moment before the bridge records it on the timeline.
        assert wait(lambda: Event.get_or_none(Event.kind == "dispatch.transmitted"))
        transmitted = Event.get(Event.kind == "dispatch.transmitted")
        assert '"fallback": true' in transmitted.detail
        modem_emulator.receive_sms("081311112222", f"OK {damkar.code}")
        assert wait(lambda: Dispatch.get_by_id(damkar.id).status == "acknowledged")
        # The station's own acknowledgement arrives later over the network: applied once.
        from edge.services.dispatches import update_status
        from edge.services.users import get_user

        _, changed = update_status(get_user("damkar"), damkar.id, {"status": "acknowledged", "channel": "mqtt"})
        assert not changed
        assert Event.select().where(Event.kind == "dispatch.acknowledged").count() == 1
        time.sleep(0.8)
        assert len(modem_emulator.sent) == 1
    finally:
        bridge.stop()
