"""The routing profile's channel order, applied to what each channel has done: radio gets its
window before SMS, a radio that gives up hands over to SMS at once and says so on the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.models import Agency, Dispatch, Event, Incident, RadioTransmission, SmsTransmission
from edge.profile import load_profile
from edge.services.profiles import install_profile
from firmware_bridge.channel_policy import radio_due, sms_due
from firmware_bridge.radio_dispatch import RadioDispatcher

FALLBACK = 60


def _profile(tmp_path, order: str) -> None:
    path = tmp_path / "bengkalis.toml"
    path.write_text('[profile]\nid = "bengkalis"\nextends = "bengkalis"\n'
                    f"fallback_after_seconds = {FALLBACK}\nchannel_order = {order}\n")
    install_profile(load_profile(path))


@pytest.fixture
def network_dispatch(node, login) -> Dispatch:
    Agency.update(radio_callsign="DAMKR1").where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "app"})
    return Dispatch.get()


def _ids(pairs) -> list[tuple[str, bool]]:
    return [(d.id, fallback) for d, fallback in pairs]


def test_radio_first_then_sms_only_after_radio_had_its_window(tmp_path, network_dispatch):
    _profile(tmp_path, '["mqtt", "radio", "sms"]')
    d, t0 = network_dispatch, network_dispatch.sent_at
    assert radio_due(t0 + timedelta(seconds=FALLBACK - 1)) == []
    assert _ids(radio_due(t0 + timedelta(seconds=FALLBACK))) == [(d.id, True)]
    # Radio's turn has come but it has not sent yet (TNC down): SMS waits one more window.
    assert sms_due(t0 + timedelta(seconds=FALLBACK), radio_here=True) == []
    assert _ids(sms_due(t0 + timedelta(seconds=2 * FALLBACK), radio_here=True)) == [(d.id, True)]
    # Radio sent and the station acked, but nobody answered within the window: SMS goes.
    sent = t0 + timedelta(seconds=FALLBACK)
    RadioTransmission.create(dispatch_id=d.id, callsign="DAMKR1", msgid="M1", text="x", sent_at=sent)
    assert radio_due(sent + timedelta(hours=1)) == []  # radio sends once
    assert sms_due(sent + timedelta(seconds=FALLBACK - 1), radio_here=True) == []
    assert _ids(sms_due(sent + timedelta(seconds=FALLBACK), radio_here=True)) == [(d.id, True)]
    # A bridge without a radio does not wait for it.
    assert _ids(sms_due(t0 + timedelta(seconds=FALLBACK), radio_here=False)) == [(d.id, True)]


def test_sms_first_order_never_waits_for_radio(tmp_path, network_dispatch):
    _profile(tmp_path, '["mqtt", "sms", "radio"]')
    t = network_dispatch.sent_at + timedelta(seconds=FALLBACK)
    assert _ids(sms_due(t, radio_here=True)) == [(network_dispatch.id, True)]
    assert radio_due(t + timedelta(hours=1)) == []


def test_an_answered_or_already_texted_dispatch_is_not_due(tmp_path, network_dispatch):
    _profile(tmp_path, '["mqtt", "sms"]')
    late = network_dispatch.sent_at + timedelta(hours=1)
    SmsTransmission.create(dispatch_id=network_dispatch.id, number="0811", text="x")
    assert sms_due(late) == []
    SmsTransmission.delete().execute()
    Dispatch.update(status="acknowledged").execute()
    assert sms_due(late) == []


class _Channel:
    """Just enough of a ReliableChannel for RadioDispatcher's callbacks."""

    my_call = "POSKO1"


def test_radio_giving_up_goes_on_the_timeline_and_hands_over_to_sms_at_once(node, tmp_path, network_dispatch):
    _profile(tmp_path, '["mqtt", "radio", "sms"]')
    d = network_dispatch
    sent = d.sent_at + timedelta(seconds=FALLBACK)
    RadioTransmission.create(dispatch_id=d.id, callsign="DAMKR1", msgid="GIVEUP1", text="x", sent_at=sent)
    assert sms_due(sent + timedelta(seconds=5), radio_here=True) == []
    RadioDispatcher(_Channel(), node.data_dir).on_failed("GIVEUP1", "DAMKR1")
    assert RadioTransmission.get_by_id(d.id).failed
    event = Event.get(Event.kind == "dispatch.transmission_failed")
    assert event.incident_id == d.incident_id and '"channel": "radio"' in event.detail and "DAMKR1" in event.detail
    assert _ids(sms_due(sent + timedelta(seconds=5), radio_here=True)) == [(d.id, True)]


def test_a_radio_dispatch_that_fails_goes_by_sms_when_the_order_has_sms(tmp_path, node, login):
    _profile(tmp_path, '["mqtt", "radio", "sms"]')
    Agency.update(radio_callsign="DAMKR1").where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "api"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "radio"})
    d = Dispatch.get()
    assert _ids(radio_due(d.sent_at)) == [(d.id, False)]
    assert sms_due(d.sent_at, radio_here=True) == []
    RadioTransmission.create(dispatch_id=d.id, callsign="DAMKR1", msgid="R1", text="x", sent_at=d.sent_at,
                             failed=True)
    assert _ids(sms_due(d.sent_at, radio_here=True)) == [(d.id, True)]


def test_while_sync_cannot_reach_the_broker_the_next_channel_takes_over_at_once(tmp_path, network_dispatch):
    from sync.status import write_status

    _profile(tmp_path, '["mqtt", "radio", "sms"]')
    t0 = network_dispatch.sent_at
    write_status("connected", "1")
    assert radio_due(t0) == []
    write_status("connected", "0")
    assert _ids(radio_due(t0)) == [(network_dispatch.id, True)]
    assert sms_due(t0, radio_here=True) == []  # radio still gets its window
    assert _ids(sms_due(t0 + timedelta(seconds=FALLBACK), radio_here=True)) == [(network_dispatch.id, True)]
    assert _ids(sms_due(t0, radio_here=False)) == [(network_dispatch.id, True)]
