"""Calls on the 112 line: answering, one-action classification, repeat-caller hints.

The Bengkalis trial had ~85% non-actionable calls, so classifying a prank, ghost or
information call is one action. Repeat callers are flagged (24 h ghost rule, three
pranks) but never blocked: a prankster may one day have a real emergency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge.enums import CallSource, CallType, IncidentStatus, Role
from edge.models import Call, Incident, User
from edge.services import node_id, write_tx
from edge.services.audit import append_event
from edge.services.errors import Conflict, Forbidden, NotFound
from edge.services.validation import Checker
from edge.timeutil import utcnow

PRANK_FLAG_COUNT = 3
GHOST_FLAG_WINDOW = timedelta(hours=24)


def start_call(
    actor: User | None,
    data: dict | None = None,
    source: CallSource = CallSource.MANUAL,
) -> Call:
    """Record an answered call. `rung_at` may come from the modem's caller-ID time."""
    check = Checker(data)
    number = check.phone("caller_number")
    rung_at = _parse_time(check, "rung_at")
    check.done()
    node = node_id()  # read before the write lock is taken: the less done while holding it, the better
    now = utcnow()
    with write_tx():
        call = Call.create(
            node=node,
            caller_number=number,
            rung_at=rung_at or now,
            answered_at=now,
            call_taker=actor.username if actor else "",
            source=source,
        )
        append_event(None, actor.username if actor else "system", "call.answered",
                     {"call": call.id, "source": str(source)})
    return call


def incoming_call(number: str, source: CallSource = CallSource.GSM) -> Call:
    """A call ringing on the line (caller ID from the GSM modem): waits on the board until a
    call-taker answers it, so the SOP's receive step runs from the first ring."""
    check = Checker({"caller_number": number})
    clean = check.phone("caller_number")
    if check.errors:
        clean = ""  # withheld or odd caller ID: still a call, without a number
    node = node_id()
    with write_tx():
        call = Call.create(node=node, caller_number=clean, rung_at=utcnow(), answered_at=None, source=source)
        append_event(None, "modem", "call.ringing", {"call": call.id, "source": str(source)})
    return call


def answer_call(actor: User, call_id: str) -> Call:
    """The call-taker takes a ringing call: it is theirs, and the receive timer stops."""
    with write_tx():
        call = get_call(call_id)
        if call.answered_at is None:
            call.answered_at = utcnow()
            call.call_taker = actor.username
            call.save()
            append_event(None, actor.username, "call.answered", {"call": call.id, "source": call.source})
    return call


def _parse_time(check: Checker, field: str) -> datetime | None:
    raw = check.text(field, max_len=40)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        check.fail(field, "Waktu tidak valid (ISO 8601)")
        return None
    if value > utcnow() + timedelta(minutes=5):
        check.fail(field, "Waktu di masa depan")
        return None
    return value


def get_call(call_id: str) -> Call:
    call = Call.get_or_none(Call.id == call_id)
    if call is None:
        raise NotFound("Panggilan tidak ditemukan")
    return call


def classify_call(actor: User, call_id: str, data: dict) -> Call:
    """Close a non-actionable call as information, ghost or prank in one action."""
    check = Checker(data)
    call_type = check.choice("call_type", (CallType.INFORMATION, CallType.GHOST, CallType.PRANK), required=True)
    notes = check.text("notes", max_len=2000)
    check.done()
    with write_tx():
        call = get_call(call_id)
        if call.call_type is not None:
            raise Conflict("Panggilan sudah diklasifikasikan")
        call.call_type = call_type
        call.notes = notes
        call.ended_at = utcnow()
        call.save()
        append_event(None, actor.username, "call.classified", {"call": call.id, "call_type": call_type})
    return call


def attach_call(actor: User, call: Call, incident: Incident, kind: str) -> None:
    """Mark `call` as a normal call belonging to `incident` (inside the caller's transaction)."""
    if call.call_type not in (None, CallType.NORMAL) or (call.incident_id and call.incident_id != incident.id):
        raise Conflict("Panggilan sudah diklasifikasikan")
    call.call_type = CallType.NORMAL
    call.incident = incident
    call.ended_at = call.ended_at or utcnow()
    call.save()
    append_event(incident, actor.username, kind, {"call": call.id, "caller_number": call.caller_number})


def link_call(actor: User, call_id: str, incident_id: str) -> Incident:
    """A further call about a case already open: attach it to that case instead of a new one."""
    if actor.role not in (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Peran Anda tidak boleh mencatat atau mengubah kasus")
    with write_tx():
        call = get_call(call_id)
        incident = Incident.get_or_none(Incident.id == incident_id)
        if incident is None:
            raise NotFound("Kasus tidak ditemukan")
        if incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup; catat sebagai kasus baru")
        attach_call(actor, call, incident, "call.linked")
    return incident


@dataclass(frozen=True)
class CallerHistory:
    number: str
    total: int
    last_24h: int
    pranks: int
    ghosts_24h: int
    normal: int
    last_call_at: datetime | None
    flags: tuple[str, ...]  # message keys, e.g. prank repeat; never a block

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def caller_history(number: str, exclude_call_id: str | None = None) -> CallerHistory:
    """Earlier calls from this number and why it deserves caution."""
    empty = CallerHistory(number, 0, 0, 0, 0, 0, None, ())
    if not number:
        return empty
    query = Call.select().where(Call.caller_number == number)
    if exclude_call_id:
        query = query.where(Call.id != exclude_call_id)
    since = utcnow() - GHOST_FLAG_WINDOW
    total = last_24h = pranks = ghosts = normal = 0
    last_at: datetime | None = None
    for call in query.order_by(Call.rung_at.desc()).limit(1000):
        total += 1
        last_at = last_at or call.rung_at
        if call.rung_at >= since:
            last_24h += 1
            if call.call_type == CallType.GHOST:
                ghosts += 1
        if call.call_type == CallType.PRANK:
            pranks += 1
        if call.call_type == CallType.NORMAL:
            normal += 1
    flags = []
    if pranks >= PRANK_FLAG_COUNT:
        flags.append("Penelepon iseng berulang (≥3 kali)")
    if ghosts:
        flags.append("Panggilan kosong dalam 24 jam terakhir")
    return CallerHistory(number, total, last_24h, pranks, ghosts, normal, last_at, tuple(flags))


def recent_unclassified(limit: int = 20) -> list[Call]:
    """Answered calls not yet classified nor attached (e.g. SMS info calls to review)."""
    return list(
        Call.select().where(Call.call_type.is_null(True)).order_by(Call.rung_at.desc()).limit(limit)
    )
