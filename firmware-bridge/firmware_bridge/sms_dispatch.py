"""Sending dispatches by SMS: every dispatch whose channel is "sms" goes, once, as the
compact authenticated text of `dispatch_format` to its agency's registered number, and the
modem's delivery report marks it received on the timeline. A dispatch sent over the
network or by radio that the agency has not acknowledged goes by SMS too, when the routing
profile's policy says SMS is next (channel_policy.py); whichever channel the agency answers
on, the status moves once (statuses only go forward).

What was sent is kept in the node-local `sms_transmission` table (edge/models.py), committed right after the
modem accepted the message, so a restart does not send a dispatch twice (at worst, a crash
between the modem's OK and that commit repeats one SMS, which the agency's reply code
makes harmless).
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge.enums import Role
from edge.models import Dispatch, Incident, OutgoingReply, SmsTransmission, User
from edge.profile import ProfileError
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.dispatches import update_status
from edge.services.errors import ServiceError
from edge.services.profiles import profile_for
from edge.services.station import replies_to_send
from edge.timeutil import utcnow
from firmware_bridge.channel_policy import sms_due
from firmware_bridge.dispatch_format import message_for, render, short_type_name
from sync import dispatch_keys

log = logging.getLogger("siaga112.bridge.sms")


def agency_secret(data_dir: Path, agency_code: str) -> bytes:
    """The key of a dispatch's auth code for `agency_code` (sync/dispatch_keys.py)."""
    return dispatch_keys.key_for(data_dir, agency_code)


def dispatch_text(dispatch: Dispatch, data_dir: Path, max_chars: int = 160) -> str:
    """The compact authenticated dispatch text (one SMS, or one radio frame with more room)."""
    incident: Incident = dispatch.incident
    try:
        name = profile_for(incident.profile_id).incident_type(incident.incident_type).name_id
    except (ProfileError, ServiceError):
        name = "DARURAT"
    message = message_for(incident, dispatch.code, short_type_name(name))
    return render(message, agency_secret(data_dir, dispatch.agency.code), max_chars=max_chars)


def send_pending(modem, data_dir: Path, radio_here: bool = False) -> int:
    """Send what is due by SMS (channel_policy.sms_due); returns how many dispatches went out."""
    count = 0
    for dispatch, fallback in sms_due(radio_here=radio_here):
        agency = dispatch.agency
        if not agency.phone:
            log.warning("dispatch %s: agency %s has no phone number for SMS", dispatch.id, agency.code)
            continue
        text = dispatch_text(dispatch, data_dir)
        refs = modem.send_sms(agency.phone, text, status_report=True)
        with write_tx():
            SmsTransmission.create(dispatch_id=dispatch.id, number=agency.phone, text=text,
                                   refs=",".join(map(str, refs)))
            append_event(dispatch.incident, "bridge", "dispatch.transmitted",
                         {"dispatch": dispatch.id, "agency": agency.code, "channel": "sms",
                          "parts": len(refs), "fallback": fallback})
        log.info("dispatch %s sent by SMS to %s (%d part(s))%s", dispatch.id, agency.code, len(refs),
                 " as fallback: no answer over the network" if fallback else "")
        count += 1
    return count


def delivered(message_ref: int, ok: bool) -> str | None:
    """A delivery report: the agency's phone has the dispatch, i.e. the agency received it."""
    recent = SmsTransmission.select().where(SmsTransmission.refs != "").order_by(SmsTransmission.sent_at.desc())
    for row in recent.limit(200):
        if str(message_ref) in row.refs.split(","):
            if not ok:
                log.warning("SMS for dispatch %s not delivered (report status)", row.dispatch_id)
                return None
            dispatch = Dispatch.get_or_none(Dispatch.id == row.dispatch_id)
            if dispatch is None:
                return None
            actor = User(username="bridge", role=Role.SUPERVISOR)
            try:
                update_status(actor, dispatch.id, {"status": "received", "channel": "sms"})
            except ServiceError as exc:
                log.warning("delivery of dispatch %s not recorded: %s", dispatch.id, exc.message)
            return dispatch.id
    return None


def send_replies(modem) -> int:
    """An agency station's answers to dispatches that came by SMS, sent back to the posko's number."""
    count = 0
    for reply in replies_to_send("sms"):
        modem.send_sms(reply.dest, reply.text)
        with write_tx():
            OutgoingReply.update(sent_at=utcnow()).where(OutgoingReply.id == reply.id).execute()
        log.info("reply to dispatch #%s sent by SMS: %s", reply.received.code, reply.text)
        count += 1
    return count
