"""What an incoming SMS means: an agency's reply to a dispatch, or a message for a call-taker.

A reply counts only when it comes from the number registered for an agency AND quotes the
code of one of that agency's unfinished dispatches: a stranger who knows a code, or the
agency quoting another agency's code, does not move anything. Whatever is not a valid
reply becomes an information call (source "sms") that waits on the board for review, so
no message is dropped. `apply_reply` is shared with radio (radio_dispatch.py), where the
sender check is the agency's station callsign instead of its number.
"""

from __future__ import annotations

import logging
import re

from edge.enums import CallSource, DispatchStatus, IncidentStatus, Role
from edge.logsetup import redacted
from edge.models import Agency, Dispatch, Incident, User
from edge.services.calls import incoming_call
from edge.services.dispatches import hospital_transfer, update_status
from edge.services.errors import ServiceError
from firmware_bridge.dispatch_format import ReplyAction, ReplyParseError, parse_reply

log = logging.getLogger("siaga112.bridge.sms")


def same_number(a: str, b: str) -> bool:
    """Indonesian numbers as modems and people write them: +62812…, 62812…, 0812…"""
    def norm(n: str) -> str:
        digits = re.sub(r"\D", "", n or "")
        if digits.startswith("62"):
            digits = "0" + digits[2:]
        return digits

    return bool(norm(a)) and norm(a) == norm(b)


def _agency_for(sender: str) -> Agency | None:
    for agency in Agency.select().where(Agency.phone != ""):
        if same_number(agency.phone, sender):
            return agency
    return None


def route_sms(sender: str, text: str) -> str:
    """Apply one SMS; returns what was done (for the log)."""
    agency = _agency_for(sender)
    if agency is not None:
        outcome = apply_reply(agency, sender, text, "sms")
        if outcome is not None:
            return outcome
    call = incoming_call(sender, CallSource.SMS)
    call.notes = text[:2000]
    call.save()
    return f"information call {call.id} to review"


def apply_reply(agency: Agency, sender: str, text: str, channel: str) -> str | None:
    """A message from `agency` (its sender already checked: phone number for SMS, callsign
    for radio) applied as a reply to one of its open dispatches, the update recorded with
    `channel`; what was done, or None if it is not a reply to an open dispatch of that agency."""
    label = channel.upper()
    try:
        reply = parse_reply(text)
    except ReplyParseError as exc:
        log.warning("%s from %s (%s) is not a reply: %s", label, agency.code, redacted(sender), exc)
        return None
    dispatch = (Dispatch.select().join(Incident)
                .where((Dispatch.agency == agency) & (Dispatch.code == reply.code)
                       & (Dispatch.status != DispatchStatus.FINISHED) & (Incident.status != IncidentStatus.CLOSED))
                .order_by(Dispatch.sent_at.desc()).first())  # a closed case's code may be drawn again
    if dispatch is None:
        log.warning("%s from %s quotes code %s: no open dispatch of that agency", label, agency.code, reply.code)
        return None
    actor = User(username=f"{channel}:{agency.code}", role=Role.AGENCY, agency=agency)
    try:
        return _apply(actor, dispatch, reply, channel)
    except ServiceError as exc:
        log.warning("%s reply %s for dispatch %s refused: %s", label, reply.action, dispatch.id, exc.message)
        return None


def _apply(actor: User, dispatch: Dispatch, reply, channel: str = "sms") -> str:
    if reply.hospital or reply.action == ReplyAction.HOSPITAL:
        if reply.hospital:
            hospital_transfer(actor, dispatch.id, {"hospital": reply.hospital, "channel": channel,
                                                   "victims_to_hospital": reply.victims or 0})
    if reply.action.status is not None:
        data = {"status": reply.action.status.value, "channel": channel, "report": reply.note or text_of(reply)}
        if reply.crew is not None:
            data["crew_count"] = reply.crew
        update_status(actor, dispatch.id, data)
    return f"dispatch {dispatch.id} {reply.action.value} by {'SMS' if channel == 'sms' else channel}"


def text_of(reply) -> str:
    parts = [reply.action.value]
    if reply.victims is not None:
        parts.append(f"{reply.victims} korban")
    if reply.hospital:
        parts.append(f"ke {reply.hospital}")
    return " ".join(parts)
