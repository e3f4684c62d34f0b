"""The status header shows the bridge's devices: the GSM modem and the radio TNC."""

from __future__ import annotations

import json

from sync.models import SyncStatus


def _radio(connected: bool, waiting: int) -> None:
    value = {"connected": connected, "callsign": "POSKO1", "tnc": "127.0.0.1:8001", "waiting": waiting}
    SyncStatus.insert(key="radio", value=json.dumps(value)).on_conflict_replace().execute()


def test_radio_pill_follows_the_tnc_state(node, login):
    client = login("operator")
    assert 'id="radio-pill"' not in client.get("/board").get_data(as_text=True)  # no bridge with a radio here
    _radio(True, 0)
    html = client.get("/board").get_data(as_text=True)
    assert 'data-radio="ok"' in html and "POSKO1" in html and "TNC tersambung" in html
    _radio(False, 2)
    html = client.get("/board?lang=en").get_data(as_text=True)
    assert 'data-radio="down"' in html and "TNC disconnected" in html and "2 awaiting ack" in html
