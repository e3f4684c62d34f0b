"""Dispatches over radio, both sides of the air.

Posko side: a dispatch is sent over a `ReliableChannel` to its agency's station callsign when
`channel_policy.radio_due` says so (channel "radio", or a network dispatch unanswered within the
profile's fallback time when radio comes before SMS), once, as the compact authenticated text
of `dispatch_format` (at most 256 characters). The station radio's acknowledgement marks it
received with channel "radio". When the radio gives up after all retries, the timeline says
so (`dispatch.transmission_failed`) and SMS takes over (channel_policy.sms_due). Replies heard
from the station's callsign ("OK 4821", "TIBA 4821") take the same routing as SMS replies
(`sms_routing.apply_reply`) with channel "radio".

The station's callsign is the agency's `radio_callsign` (e.g. "DAMKR1").

Station side (an agency station running the bridge with a radio): a dispatch text heard is
verified and handed to the station's inbox (dispatch_receipt.py); the dispatcher's answers
(`outgoing_reply`, written by the web app) go back over the same channel to the posko's
callsign. Everything heard is kept in `radio_inbox`, so nothing heard is lost.

What was sent is kept in `radio_transmission` (one row per dispatch, with its message id),
committed before the message is handed to the channel, so the ack can never arrive before the
row and a dispatch is sent once. After a restart, the rows neither acknowledged nor given up
are queued again with the same message id (the station's channel drops the copy it already
heard).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from edge.enums import Role
from edge.models import Dispatch, OutgoingReply, RadioInbox, RadioTransmission, User
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.dispatches import update_status
from edge.services.errors import ServiceError
from edge.services.station import replies_to_send
from edge.timeutil import utcnow
from firmware_bridge.channel_policy import agency_for_callsign, callsign, radio_due
from firmware_bridge.dispatch_receipt import looks_like_dispatch, receive_text, station_agency
from firmware_bridge.radio import ax25
from firmware_bridge.radio.link import new_msgid
from firmware_bridge.sms_dispatch import dispatch_text as sms_dispatch_text
from firmware_bridge.sms_routing import apply_reply

log = logging.getLogger("siaga112.bridge.radio")

RADIO_CHARS = 256
RESUME_WINDOW = timedelta(hours=1)


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

    def send_pending(self, now: datetime | None = None) -> int:
        """Send what is due while the TNC is connected (dispatches, then a station's replies);
        returns how many messages went out."""
        if not self.channel.link.connected:
            return 0
        if not self._resumed:
            self._resumed = True
            self.resume()
        count = 0
        for dispatch, fallback in radio_due(now):
            agency = dispatch.agency
            dest = callsign(agency.radio_callsign)
            if dest is None:
                if dispatch.id not in self._warned:
                    self._warned.add(dispatch.id)
                    log.warning("dispatch %s: agency %s has no valid station callsign for radio (%r)",
                                dispatch.id, agency.code, agency.radio_callsign)
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
        return count + self.send_replies()

    def resume(self) -> int:
        """Queue again what an earlier run sent (within the hour) but saw neither acknowledged
        nor given up: dispatches, and a station's replies."""
        since = utcnow() - RESUME_WINDOW
        waiting = set(self.channel.pending())
        again = [(r.callsign, r.text, r.msgid) for r in RadioTransmission.select().where(
            RadioTransmission.acked_at.is_null() & ~RadioTransmission.failed
            & (RadioTransmission.callsign != self.my_call) & (RadioTransmission.sent_at >= since))]
        again += [(r.dest, r.text, r.msgid) for r in OutgoingReply.select().where(
            (OutgoingReply.channel == "radio") & OutgoingReply.sent_at.is_null(False) & OutgoingReply.acked_at.is_null()
            & ~OutgoingReply.failed & (OutgoingReply.sent_at >= since))]
        for dest, text, msgid in again:
            if msgid not in waiting:
                self.channel.send(dest, text.encode("ascii"), msgid)
                log.info("radio message %s to %s queued again", msgid, dest)
        return len(again)

    def on_acked(self, msgid: str, source: str) -> str | None:
        """The other side's radio acknowledged a message: a dispatch reached the agency's
        station (the agency received it), or a station's reply reached the posko."""
        row = RadioTransmission.get_or_none(RadioTransmission.msgid == msgid)
        if row is None:
            with write_tx():
                OutgoingReply.update(acked_at=utcnow()).where(OutgoingReply.msgid == msgid).execute()
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
        """The radio gave up after all retries: say so on the timeline; SMS takes over
        (channel_policy.sms_due sees the failed row)."""
        row = RadioTransmission.get_or_none(RadioTransmission.msgid == msgid)
        if row is None:
            with write_tx():
                OutgoingReply.update(failed=True).where(OutgoingReply.msgid == msgid).execute()
            log.warning("reply %s to %s: no radio acknowledgement", msgid, dest)
            return
        dispatch = Dispatch.get_or_none(Dispatch.id == row.dispatch_id)
        with write_tx():
            RadioTransmission.update(failed=True).where(RadioTransmission.dispatch_id == row.dispatch_id).execute()
            if dispatch is not None:
                append_event(dispatch.incident, "bridge", "dispatch.transmission_failed",
                             {"dispatch": dispatch.id, "agency": dispatch.agency.code, "channel": "radio",
                              "callsign": dest})
        log.warning("dispatch %s: no radio acknowledgement from %s; the next channel takes over", row.dispatch_id,
                    dest)

    # --- station side ---------------------------------------------------------------------

    def send_replies(self) -> int:
        """The station dispatcher's answers to dispatches that came by radio."""
        count = 0
        for reply in replies_to_send("radio"):
            msgid = new_msgid()
            with write_tx():
                OutgoingReply.update(msgid=msgid, sent_at=utcnow()).where(OutgoingReply.id == reply.id).execute()
            self.channel.send(reply.dest, reply.text.encode("ascii"), msgid)
            log.info("reply to dispatch #%s sent by radio to %s: %s", reply.received.code, reply.dest, reply.text)
            count += 1
        return count

    # --- both sides: what was heard -----------------------------------------------------

    def on_message(self, source: str, payload: bytes) -> str:
        """One message heard for this callsign (already acknowledged and de-duplicated by the
        channel): a dispatch text for this station, or an agency's reply to a dispatch."""
        text = payload.decode("ascii", "replace")
        if looks_like_dispatch(text):
            receipt = receive_text(self.data_dir, station_agency(self.data_dir, self.my_call), "radio", source, text)
            with write_tx():
                RadioInbox.create(source=source, kind="dispatch" if receipt.ok else "rejected",
                                  code=receipt.row.code if receipt.row else "", text=text[:2000],
                                  note="" if receipt.ok else receipt.note)
            return receipt.note
        agency = agency_for_callsign(source)
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
