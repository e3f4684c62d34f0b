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
        answered = op.post(f"/calls/{call.id}/answer")
        assert answered.location.endswith(f"/calls/{call.id}")
        intake = op.get(answered.location).get_data(as_text=True)
        assert 'value="081277001122"' in intake  # number pre-filled
        assert 'data-flagged="1"' in intake and "iseng: 3" in intake  # its history, flagged
        call = Call.get_by_id(call.id)
        assert call.answered_at is not None and call.call_taker == "operator"
    finally:
        bridge.stop()
