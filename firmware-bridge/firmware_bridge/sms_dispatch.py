"""Sending dispatches by SMS: every dispatch whose channel is "sms" goes, once, as the
compact authenticated text of `dispatch_format` to its agency's registered number, and the
modem's delivery report marks it received on the timeline. A dispatch sent over the
network that the agency has not acknowledged within the routing profile's
`fallback_after_seconds` goes by SMS too, when the profile's `channel_order` allows it;
whichever channel the agency answers on, the status moves once (statuses only go forward).

What was sent is kept in the node-local `sms_transmission` table (edge/models.py), committed right after the
modem accepted the message, so a restart does not send a dispatch twice (at worst, a crash
between the modem's OK and that commit repeats one SMS, which the agency's reply code
makes harmless).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from edge.enums import DispatchStatus, Role
from edge.models import Agency, Dispatch, Incident, SmsTransmission, User
from edge.profile import ProfileError
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.dispatches import update_status
from edge.services.errors import ServiceError
from edge.services.profiles import profile_for
from edge.timeutil import utcnow
from firmware_bridge.dispatch_format import message_for, render, short_type_name

log = logging.getLogger("siaga112.bridge.sms")


def agency_secret(data_dir: Path, agency_code: str) -> bytes:
    """The key of a dispatch's auth code: derived from this node's secret and the agency.
    (Interim: the regency-wide per-agency secret will come with central's agency admin.)"""
    path = Path(data_dir) / "secret_key"
    base = path.read_bytes() if path.exists() else b""
    return hashlib.sha256(base + b"|sms-dispatch|" + agency_code.encode()).digest()


FIRST_CHANNELS = ("app", "mqtt")  # the dispatch went over the network (same appliance or sync)


def due(channel: str, transmitted, fallback_allowed, now: datetime | None = None) -> list[tuple[Dispatch, bool]]:
    """Dispatches to send over `channel` now, each with whether it is a fallback: those sent
    with that channel and not yet in the `transmitted` table, and network dispatches the
    agency has not acknowledged within the profile's `fallback_after_seconds` when
    `fallback_allowed(dispatch, policy)` says this channel is next."""
    now = now or utcnow()
    sent = transmitted.select(transmitted.dispatch_id)
    waiting = (Dispatch.select(Dispatch, Agency, Incident).join_from(Dispatch, Agency)
               .join_from(Dispatch, Incident)
               .where(Dispatch.id.not_in(sent) & (Incident.status != "closed")
                      & Dispatch.status.in_([DispatchStatus.SENT.value, DispatchStatus.RECEIVED.value]))
               .order_by(Dispatch.sent_at).limit(200))
    out = []
    for dispatch in waiting:
        if dispatch.channel == channel:
            if dispatch.status == DispatchStatus.SENT:
                out.append((dispatch, False))
        elif dispatch.channel in FIRST_CHANNELS:
            policy = profile_for(dispatch.incident.profile_id)
            if fallback_allowed(dispatch, policy) and \
                    dispatch.sent_at <= now - timedelta(seconds=policy.fallback_after_seconds):
                out.append((dispatch, True))
    return out[:20]


def pending(now: datetime | None = None) -> list[tuple[Dispatch, bool]]:
    """Dispatches to send by SMS now (see `due`)."""
    return due("sms", SmsTransmission, lambda _d, policy: "sms" in policy.channel_order, now)


def dispatch_text(dispatch: Dispatch, data_dir: Path, max_chars: int = 160) -> str:
    """The compact authenticated dispatch text (one SMS, or one radio frame with more room)."""
    incident: Incident = dispatch.incident
    try:
        name = profile_for(incident.profile_id).incident_type(incident.incident_type).name_id
    except (ProfileError, ServiceError):
        name = "DARURAT"
    message = message_for(incident, dispatch.code, short_type_name(name))
    return render(message, agency_secret(data_dir, dispatch.agency.code), max_chars=max_chars)


def send_pending(modem, data_dir: Path) -> int:
    """Send what is pending; returns how many dispatches went out."""
    count = 0
    for dispatch, fallback in pending():
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
