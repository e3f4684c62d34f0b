"""Radio dispatch through the bridge, both sides, over a real TCP "air" (test_radio_link.Air).

Two bridges on the two sides of the air: the posko (callsign POSKO1) and the Damkar station
(DAMKR1, the agency's radio_callsign). One process can bind only one node
database, so the station's bridge runs on the same node; its secret is then the posko's,
as the shared per-agency secret will be once central hands it out.
"""

from __future__ import annotations

import logging
import time

from edge.models import Agency, Dispatch, Event, Incident, RadioInbox, RadioTransmission
from firmware_bridge.bridge import Bridge
from firmware_bridge.dispatch_format import message_for, render
from firmware_bridge.radio.link import pack_message
from firmware_bridge.radio_dispatch import dispatch_text
from tests.bridge.conftest import wait_until
from tests.bridge.test_radio_link import Air, data_frames

POSKO, STATION = "POSKO1", "DAMKR1"
FAST = {"retry_initial": 0.5, "retry_factor": 2.0, "max_tries": 5}


def _radio_dispatch_to_damkar(login) -> Dispatch:
    Agency.update(radio_callsign=STATION).where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "radio"})
    return Dispatch.get()


def _bridge(node, air: Air, side: str, call: str) -> Bridge:
    bridge = Bridge(node.data_dir, radio=("127.0.0.1", air.port(side), call), radio_options=FAST)
    bridge.poll_seconds = 0.2
    return bridge


def test_radio_dispatch_is_acked_answered_and_forgeries_change_nothing(node, login, caplog):
    caplog.set_level(logging.INFO, logger="siaga112.bridge")
    damkar = _radio_dispatch_to_damkar(login)
    air = Air()
    posko, station = _bridge(node, air, "A", POSKO), _bridge(node, air, "B", STATION)
    posko.start()
    station.start()
    try:
        air.wait_connected("A", "B")
        # Sent once to the station's callsign; the station verifies it and keeps it for its dispatcher.
        received = wait_until(lambda: RadioInbox.get_or_none(RadioInbox.kind == "dispatch"), what="dispatch heard")
        assert received.source == POSKO and received.code == damkar.code
        assert f"112 #{damkar.code}" in received.text and "KEBAKARAN" in received.text and len(received.text) <= 256
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "received", what="radio ack marks it received")
        row = RadioTransmission.get_by_id(damkar.id)
        assert row.callsign == STATION and row.acked_at is not None and not row.failed
        transmitted = Event.get(Event.kind == "dispatch.transmitted")
        assert '"channel": "radio"' in transmitted.detail and '"fallback": false' in transmitted.detail
        assert '"channel": "radio"' in Event.get(Event.kind == "dispatch.received").detail
        time.sleep(1.0)  # several send rounds later: still one dispatch on the air, one row
        assert len(data_frames(air, "A")) == 1 and RadioTransmission.select().count() == 1
        assert any("RADIO DISPATCH #" + damkar.code in r.getMessage() for r in caplog.records)

        # The station answers over radio: the dispatch moves with channel radio.
        station.radio_channel.send(POSKO, f"TIBA {damkar.code}".encode())
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "on_scene", what="reply applied")
        on_scene = Event.get(Event.kind == "dispatch.on_scene")
        assert on_scene.actor == "radio:DAMKAR" and '"channel": "radio"' in on_scene.detail

        # The same words from another callsign: kept and logged, nothing moves.
        station.radio_link.send(POSKO, pack_message("FORGE1", f"SELESAI {damkar.code}".encode()), source="DAMKR9")
        wait_until(lambda: RadioInbox.get_or_none(RadioInbox.source == "DAMKR9"), what="stranger heard")
        assert RadioInbox.get(RadioInbox.source == "DAMKR9").kind == "other"
        assert Dispatch.get_by_id(damkar.id).status == "on_scene"
        assert Event.select().where(Event.kind == "dispatch.finished").count() == 0

        # A dispatch text with a forged auth code is rejected at the station.
        forged = render(message_for(Incident.get(), "7777", "KEBAKARAN"), b"not-the-agency-secret", max_chars=256)
        posko.radio_channel.send(STATION, forged.encode("ascii"))
        rejected = wait_until(lambda: RadioInbox.get_or_none(RadioInbox.kind == "rejected"), what="forgery heard")
        assert rejected.text == forged and "does not match" in rejected.note
        assert RadioInbox.select().where(RadioInbox.kind == "dispatch").count() == 1
        assert any("refused" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    finally:
        posko.stop()
        station.stop()
        air.close()


def test_unanswered_network_dispatch_falls_back_to_radio_only_when_radio_comes_before_sms(node, login, tmp_path):
    from edge.profile import load_profile
    from edge.services.profiles import install_profile

    def fast_profile(order: str) -> None:
        path = tmp_path / "bengkalis.toml"
        path.write_text('[profile]\nid = "bengkalis"\nextends = "bengkalis"\nfallback_after_seconds = 1\n'
                        f"channel_order = {order}\n")
        install_profile(load_profile(path))

    fast_profile('["mqtt", "sms", "radio"]')
    Agency.update(radio_callsign=STATION).where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "app"})
    damkar = Dispatch.get()
    air = Air()
    posko, station = _bridge(node, air, "A", POSKO), _bridge(node, air, "B", STATION)
    posko.start()
    station.start()
    try:
        air.wait_connected("A", "B")
        time.sleep(1.8)  # past the fallback time: SMS comes first, so no radio
        assert data_frames(air, "A") == [] and RadioTransmission.select().count() == 0
        fast_profile('["mqtt", "radio", "sms"]')
        wait_until(lambda: RadioInbox.get_or_none(RadioInbox.kind == "dispatch"), what="radio fallback")
        transmitted = Event.get(Event.kind == "dispatch.transmitted")
        assert '"channel": "radio"' in transmitted.detail and '"fallback": true' in transmitted.detail
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "received", what="radio ack")
        station.radio_channel.send(POSKO, f"OK {damkar.code}".encode())
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "acknowledged", what="reply applied")
        time.sleep(0.6)
        assert len(data_frames(air, "A")) == 1  # sent once
    finally:
        posko.stop()
        station.stop()
        air.close()


def test_a_dispatch_recorded_but_not_on_the_air_before_a_restart_goes_with_the_same_id(node, login):
    damkar = _radio_dispatch_to_damkar(login)
    # an earlier run committed the row, then stopped before sending
    RadioTransmission.create(dispatch_id=damkar.id, callsign=STATION, msgid="RESTART1",
                             text=dispatch_text(damkar, node.data_dir))
    air = Air()
    posko, station = _bridge(node, air, "A", POSKO), _bridge(node, air, "B", STATION)
    posko.start()
    station.start()
    try:
        air.wait_connected("A", "B")
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "received", what="resent and acked")
        heard = wait_until(lambda: RadioInbox.get_or_none(RadioInbox.kind == "dispatch"), what="heard at the station")
        assert heard.code == damkar.code
        assert [f[:12] for f in data_frames(air, "A")] == [b"S1|RESTART1|"]
    finally:
        posko.stop()
        station.stop()
        air.close()
