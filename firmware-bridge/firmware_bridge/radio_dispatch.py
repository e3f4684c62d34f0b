"""Dispatches over radio, both sides of the air (thin slice).

Posko side: every dispatch whose channel is "radio" goes, once, as the compact
authenticated text of `dispatch_format` (at most 256 characters) over a `ReliableChannel` to
its agency's station callsign; the radio layer's acknowledgement marks it received on the
timeline with channel "radio". A network dispatch the agency has not acknowledged within the
profile's `fallback_after_seconds` goes by radio too when the profile's `channel_order` puts
"radio" before "sms". Replies heard from the station's callsign ("OK 4821", "TIBA 4821") go
through the same routing as SMS replies (`sms_routing.apply_reply`) with channel "radio".

Interim: the station's callsign is kept in `Agency.station_node` (e.g. "DAMKR1") until the
agency admin gets a field of its own.

Agency side (a station running the bridge with a radio): an incoming dispatch text is
parsed and verified with the secret of the agency whose station callsign is this bridge's
own, stored in the node-local `radio_inbox` table and logged for the dispatcher; a text
whose auth code does not match is rejected (kept in `radio_inbox` as "rejected", logged).
Applying it to the station's incident tables comes later. Every other message heard is kept
in `radio_inbox` too, so nothing heard is lost.

What was sent is kept in the node-local `radio_transmission` table (one row per dispatch,
with its message id), committed before the message is handed to the channel, so the ack can
never arrive before the row and a dispatch is sent once. After a restart, the rows neither
acknowledged nor given up are queued again with the same message id (the station's channel
drops the copy it already heard).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from edge.enums import Role
from edge.models import Agency, Dispatch, RadioInbox, RadioTransmission, User
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.dispatches import update_status
from edge.services.errors import ServiceError
from edge.timeutil import utcnow
from firmware_bridge.dispatch_format import (
    DispatchFormatError,
    parse,
)
from firmware_bridge.radio import ax25
from firmware_bridge.radio.link import new_msgid
from firmware_bridge.sms_dispatch import agency_secret, due
from firmware_bridge.sms_dispatch import dispatch_text as sms_dispatch_text
from firmware_bridge.sms_routing import apply_reply

log = logging.getLogger("siaga112.bridge.radio")

RADIO_CHARS = 256
DISPATCH_PREFIX = "112 #"  # first characters of every dispatch text


def callsign(value: str) -> str | None:
    """The normalised callsign, or None if `value` is not one."""
    try:
        return ax25.normalise_call(value or "")
    except ax25.Ax25Error:
        return None


def agency_for_call(call: str) -> Agency | None:
    """The agency whose station callsign (interim: `Agency.station_node`) is `call`."""
    wanted = callsign(call)
    if wanted is None:
        return None
    for agency in Agency.select().where(Agency.station_node != ""):
        if callsign(agency.station_node) == wanted:
            return agency
    return None


def radio_before_sms(order) -> bool:
    return "radio" in order and ("sms" not in order or order.index("radio") < order.index("sms"))


def pending(now: datetime | None = None) -> list[tuple[Dispatch, bool]]:
    """Dispatches to send by radio now (see `sms_dispatch.due`): channel "radio", or a network
    fallback when the channel order puts radio before SMS and the agency has a station callsign."""
    return due("radio", RadioTransmission,
               lambda dispatch, policy: bool(dispatch.agency.station_node) and radio_before_sms(policy.channel_order),
               now)


def dispatch_text(dispatch: Dispatch, data_dir: Path) -> str:
    return sms_dispatch_text(dispatch, data_dir, max_chars=RADIO_CHARS)


class RadioDispatcher:
    """Both sides of radio dispatch for one bridge: `send_pending()` from its send loop, and the
    channel's callbacks `on_message`, `on_acked`, `on_failed` (called on the radio threads;
    the caller wraps them in a database connection)."""

    def __init__(self, channel, data_dir: Path) -> None:
        self.channel = channel
        self.data_dir = Path(data_dir)
        self.my_call = ax25.normalise_call(channel.my_call)
        self._warned: set[str] = set()
        self._resumed = False

    # --- posko side ---------------------------------------------------------------------

    def send_pending(self) -> int:
        """Send what is pending while the TNC is connected; returns how many went out."""
        if not self.channel.link.connected:
            return 0
        if not self._resumed:
            self._resumed = True
            self.resume()
        count = 0
        for dispatch, fallback in pending():
            agency = dispatch.agency
            dest = callsign(agency.station_node)
            if dest is None:
                if dispatch.id not in self._warned:
                    self._warned.add(dispatch.id)
                    log.warning("dispatch %s: agency %s has no valid station callsign for radio (%r)",
                                dispatch.id, agency.code, agency.station_node)
                continue
            if dest == self.my_call:
                continue  # this bridge is that station: nothing to send to itself
            text, msgid = dispatch_text(dispatch, self.data_dir), new_msgid()
            with write_tx():
                RadioTransmission.create(dispatch_id=dispatch.id, callsign=dest, msgid=msgid, text=text)
                append_event(dispatch.incident, "bridge", "dispatch.transmitted",
                             {"dispatch": dispatch.id, "agency": agency.code, "channel": "radio",
                              "callsign": dest, "fallback": fallback})
            self.channel.send(dest, text.encode("ascii"), msgid)
            log.info("dispatch %s sent by radio to %s (%s, message %s)%s", dispatch.id, agency.code, dest, msgid,
                     " as fallback: no answer over the network" if fallback else "")
            count += 1
        return count

    def resume(self) -> int:
        """Queue again what an earlier run sent (within the hour) but saw neither acknowledged
        nor given up."""
        rows = list(RadioTransmission.select().where(
            RadioTransmission.acked_at.is_null() & ~RadioTransmission.failed
            & (RadioTransmission.callsign != self.my_call)
            & (RadioTransmission.sent_at >= utcnow() - timedelta(hours=1))))
        waiting = set(self.channel.pending())
        for row in rows:
            if row.msgid not in waiting:
                self.channel.send(row.callsign, row.text.encode("ascii"), row.msgid)
                log.info("dispatch %s: radio message %s to %s queued again", row.dispatch_id, row.msgid,
                         row.callsign)
        return len(rows)

    def on_acked(self, msgid: str, source: str) -> str | None:
        """The station's radio acknowledged the dispatch: the agency received it."""
        row = RadioTransmission.get_or_none(RadioTransmission.msgid == msgid)
        if row is None:
            return None
        RadioTransmission.update(acked_at=utcnow()).where(RadioTransmission.dispatch_id == row.dispatch_id).execute()
        actor = User(username="bridge", role=Role.SUPERVISOR)
        try:
            update_status(actor, row.dispatch_id, {"status": "received", "channel": "radio"})
        except ServiceError as exc:
            log.warning("radio receipt of dispatch %s not recorded: %s", row.dispatch_id, exc.message)
        log.info("dispatch %s acknowledged by radio from %s", row.dispatch_id, source)
        return row.dispatch_id

    def on_failed(self, msgid: str, dest: str) -> None:
        row = RadioTransmission.get_or_none(RadioTransmission.msgid == msgid)
        if row is None:
            return
        RadioTransmission.update(failed=True).where(RadioTransmission.dispatch_id == row.dispatch_id).execute()
        log.warning("dispatch %s: no radio acknowledgement from %s", row.dispatch_id, dest)

    # --- both sides: what was heard -----------------------------------------------------

    def on_message(self, source: str, payload: bytes) -> str:
        """One message heard for this callsign (already acknowledged and de-duplicated by the
        channel): a dispatch text for this station, or an agency's reply to a dispatch."""
        text = payload.decode("ascii", "replace")
        if text.lstrip().startswith(DISPATCH_PREFIX):
            return self.receive_dispatch(source, text)
        agency = agency_for_call(source)
        outcome = apply_reply(agency, source, text, "radio") if agency is not None else None
        with write_tx():
            RadioInbox.create(source=source, kind="reply" if outcome else "other", text=text[:2000],
                              note=outcome or ("" if agency else "unknown callsign"))
        if outcome is None:
            log.warning("radio from %s not applied (%s): %r", source,
                        agency.code if agency else "unknown callsign", text[:80])
            return "kept in radio_inbox"
        log.info("radio from %s (%s): %s", source, agency.code, outcome)
        return outcome

    # --- agency side --------------------------------------------------------------------

    def receive_dispatch(self, source: str, text: str) -> str:
        """Verify a dispatch text with this station's agency secret; keep it for the dispatcher."""
        agency = agency_for_call(self.my_call)
        secret = agency_secret(self.data_dir, agency.code) if agency is not None else None
        try:
            msg = parse(text, lambda _unverified: secret)
        except DispatchFormatError as exc:
            with write_tx():
                RadioInbox.create(source=source, kind="rejected", text=text[:2000], note=str(exc)[:500])
            log.warning("radio dispatch from %s rejected%s: %s", source,
                        "" if agency else f" (no agency has station callsign {self.my_call})", exc)
            return "rejected"
        with write_tx():
            RadioInbox.create(source=source, kind="dispatch", code=msg.code, text=text)
        log.warning("RADIO DISPATCH #%s P%d %s from %s for %s:\n%s", msg.code, msg.priority, msg.type_name,
                    source, agency.code, text)
        return f"dispatch #{msg.code} received"
