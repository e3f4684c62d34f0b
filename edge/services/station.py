"""An agency station's side of radio and SMS dispatch: receive, show, answer, link.

When the network is down a dispatch reaches the station as the compact text of
`firmware_bridge.dispatch_format`, over radio (or SMS to the station's modem). The bridge
verifies its auth code with the agency's dispatch key and calls `receive`; the station's inbox
lists the received dispatches that sync has not brought yet, with the alarm, and the dispatcher
answers with the same buttons as for a networked dispatch: `answer` records the status and
queues the reply ("TIBA 4821 K:AB3D") for the bridge to send back on the channel it came in
on. When sync brings the replicated dispatch with the same agency, code and case number,
`link_known` ties the two and the inbox shows the replicated one, whose status the posko
already moved when the radio reply arrived: every answer is applied once, at the posko.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from edge.enums import DispatchStatus, Role
from edge.models import Agency, Dispatch, Incident, OutgoingReply, ReceivedDispatch, User
from edge.services import write_tx
from edge.services.errors import Conflict, Forbidden, NotFound
from edge.services.validation import Checker
from edge.timeutil import utcnow
from firmware_bridge.dispatch_format import DispatchMessage, ReplyAction, auth_of, render_reply
from sync import dispatch_keys

log = logging.getLogger("siaga112.station")

ANSWERS = (ReplyAction.ACKNOWLEDGED, ReplyAction.EN_ROUTE, ReplyAction.ON_SCENE, ReplyAction.FINISHED)
DEDUPE_WINDOW = timedelta(days=2)  # codes are reused over time; a copy comes within minutes


def receive(agency_code: str, channel: str, source: str, text: str,
            message: DispatchMessage) -> tuple[ReceivedDispatch, bool]:
    """Keep a verified dispatch text; returns (row, new). The same dispatch heard again, on
    the same or another channel, is the same row (no second alarm)."""
    with write_tx():
        for row in (ReceivedDispatch.select()
                    .where((ReceivedDispatch.agency == agency_code) & (ReceivedDispatch.code == message.code)
                           & (ReceivedDispatch.received_at >= utcnow() - DEDUPE_WINDOW))):
            if json.loads(row.data).get("case_no") == message.case_no:
                return row, False
        row = ReceivedDispatch.create(agency=agency_code, code=message.code, channel=channel, source=source,
                                      text=text, data=json.dumps(asdict(message)))
    link_known(agency_code)
    return ReceivedDispatch.get_by_id(row.id), True


def link_known(agency_code: str) -> int:
    """Tie received dispatches to the replicated ones sync has brought since; returns how many."""
    linked = 0
    unlinked = ReceivedDispatch.select().where((ReceivedDispatch.agency == agency_code)
                                               & (ReceivedDispatch.dispatch_id == ""))
    for row in unlinked:
        case_no = json.loads(row.data).get("case_no")
        match = (Dispatch.select(Dispatch.id).join_from(Dispatch, Agency).join_from(Dispatch, Incident)
                 .where((Agency.code == agency_code) & (Dispatch.code == row.code) & (Incident.case_no == case_no))
                 .first())
        if match is not None:
            with write_tx():
                ReceivedDispatch.update(dispatch_id=match.id).where(ReceivedDispatch.id == row.id).execute()
            log.info("dispatch #%s received by %s linked to the synced dispatch %s", row.code, row.channel, match.id)
            linked += 1
    return linked


def waiting(agency: Agency | None, include_finished: bool = False) -> list[ReceivedDispatch]:
    """The received dispatches the station's inbox shows: those sync has not brought yet."""
    if agency is None:
        return []
    link_known(agency.code)
    query = ReceivedDispatch.select().where((ReceivedDispatch.agency == agency.code)
                                            & (ReceivedDispatch.dispatch_id == ""))
    if not include_finished:
        query = query.where(ReceivedDispatch.status != DispatchStatus.FINISHED.value)
    return list(query.order_by(ReceivedDispatch.received_at.desc()).limit(100))


def message_of(row: ReceivedDispatch) -> DispatchMessage:
    return DispatchMessage(**json.loads(row.data))


def answer(actor: User, received_id: int, data: dict | None, data_dir: Path) -> tuple[ReceivedDispatch, bool]:
    """Record the station's answer and queue the reply to the posko; (row, changed). Like a
    networked dispatch, the status only moves forward and repeating one is a no-op."""
    check = Checker(data)
    status = check.choice("status", [a.value for a in ANSWERS], required=True)
    crew = check.integer("crew_count", lo=0, hi=999)
    victims = check.integer("victims", lo=0, hi=9999)
    check.done()
    if actor.role != Role.AGENCY or actor.agency is None:
        raise Forbidden("Peran Anda tidak boleh mengubah status penugasan")
    with write_tx():
        row = ReceivedDispatch.get_or_none(ReceivedDispatch.id == received_id)
        if row is None or row.agency != actor.agency.code:
            raise NotFound("Penugasan tidak ditemukan")
        current, new = DispatchStatus(row.status), DispatchStatus(status)
        if new.rank <= current.rank:
            if new == current:
                return row, False
            raise Conflict("Status tidak bisa mundur dari '{current}' ke '{new}'", current=current, new=new)
        action = ReplyAction(status)
        text = render_reply(row.code, action, crew=crew if action == ReplyAction.EN_ROUTE else None,
                            victims=victims if action == ReplyAction.FINISHED else None,
                            secret=dispatch_keys.key_for(data_dir, row.agency), dispatch_auth=auth_of(row.text))
        OutgoingReply.create(received=row, channel=row.channel, dest=row.source, text=text)
        row.status, row.status_at = new.value, utcnow()
        row.save()
    log.info("station %s answers dispatch #%s: %s (queued for %s to %s)", actor.agency.code, row.code, text,
             row.channel, row.source)
    return row, True


def replies_to_send(channel: str, limit: int = 20) -> list[OutgoingReply]:
    """Replies the bridge has not sent yet on `channel`, oldest first."""
    return list(OutgoingReply.select().where((OutgoingReply.channel == channel) & OutgoingReply.sent_at.is_null())
                .order_by(OutgoingReply.id).limit(limit))
