"""`make demo` as a newcomer meets it: the demo regency with posko-a's emulated GSM modem and
the simulated radio channel to the Damkar station, driven as the demo's terminal drives them."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from edge.models import Agency, Call, Dispatch, Event, Incident, RadioInbox, ReceivedDispatch
from edge.services.demo import DAMKAR_PHONE, open_demo_regency, start_demo, start_demo_devices
from edge.services.incidents import create_incident, dispatch_agencies
from edge.services.users import get_user
from firmware_bridge.cli import run_command
from sync.localnet import free_port
from sync.status import device_status

pytestmark = pytest.mark.slow


def _wait(net, node_id: str, check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with net.use(node_id):
            value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"demo: timed out waiting for {what}\n{net.logs()[-4000:]}")


def test_demo_rings_posko_a_and_carries_sms_and_radio_dispatches(tmp_path):
    net = open_demo_regency(tmp_path / "demo")
    devices = None
    try:
        start_demo(net, free_port())
        devices = start_demo_devices(net, tmp_path / "demo")

        # The header's modem pill says "terdaftar" once the bridge has set the modem up.
        _wait(net, "posko-a", lambda: (device_status("modem") or {}).get("registered"), "modem registered")
        _wait(net, "posko-a", lambda: (device_status("radio") or {}).get("connected"), "radio TNC connected")
        # ring <number>: the call rings on posko-a's board with the number.
        assert "ringing" in run_command(devices.emulator, "ring 081277001122")
        _wait(net, "posko-a", lambda: Call.get_or_none(Call.caller_number == "081277001122"), "ringing call")

        # A case dispatched to Damkar by SMS: the SMS leaves the modem, Damkar's "OK <code>" comes back.
        with net.use("posko-a"):
            operator = get_user("operator")
            incident = create_incident(operator, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": "Senggoro",
                                                  "situation": "Gudang terbakar"}).incident
            sms = dispatch_agencies(operator, incident.id, ["DAMKAR"], channel="sms")[0]
        _wait(net, "posko-a", lambda: any(s.recipient == DAMKAR_PHONE for s in devices.emulator.sent), "SMS out")
        run_command(devices.emulator, f"sms {DAMKAR_PHONE} OK {sms.code}")
        _wait(net, "posko-a", lambda: Dispatch.get_by_id(sms.id).status == "acknowledged", "SMS answer applied")

        # A case dispatched to Damkar by radio: it reaches damkar-1's station over the simulated air.
        with net.use("posko-a"):
            damkar = Agency.get(Agency.code == "DAMKAR")
            assert (damkar.radio_callsign, damkar.station_node) == ("DAMKR1", "damkar-1")
            incident = create_incident(operator, {"incident_type": 3, "kecamatan": "Bantan", "desa": "Selatbaru",
                                                  "situation": "Rumah terbakar"}).incident
            radio = dispatch_agencies(operator, incident.id, ["DAMKAR"], channel="radio")[0]
        heard = _wait(net, "damkar-1", lambda: RadioInbox.get_or_none(RadioInbox.code == radio.code), "radio heard")
        assert heard.kind == "dispatch", heard.note  # verified with the DAMKAR key from damkar-1's bundle
        _wait(net, "damkar-1", lambda: ReceivedDispatch.get_or_none(ReceivedDispatch.code == radio.code), "inbox")
        _wait(net, "posko-a", lambda: Dispatch.get_by_id(radio.id).status != "sent", "radio ack")
        with net.use("posko-a"):
            assert Event.select().where((Event.kind == "dispatch.transmitted") & Event.detail.contains('"radio"'),
                                        Event.incident == incident.id).count() == 1
            assert Incident.get_by_id(incident.id).status != "recorded"
        assert devices.dead() == [] and net.dead_processes() == []
    finally:
        if devices is not None:
            devices.stop()
        net.stop()
