"""The append-only audit trail: every change to a case is a hash-chained Event.

Each node chains its own events (seq 1, 2, 3 … each hash covering the previous one),
so events merged from other nodes keep their own verifiable chains. `verify()` walks
every chain and reports the first broken link; triggers already refuse UPDATE/DELETE,
the chain catches what bypasses them (a row edited with another tool).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from edge.models import Event, Incident
from edge.services import node_id
from edge.timeutil import utcnow

GENESIS = "0" * 64


def canonical(event: Event) -> str:
    """The exact text an event's hash covers."""
    return json.dumps(
        {
            "id": event.id,
            "node": event.node,
            "seq": event.seq,
            "incident": event.incident_id,
            "at": event.at.isoformat(timespec="microseconds"),
            "actor": event.actor,
            "kind": event.kind,
            "detail": json.loads(event.detail),
            "prev": event.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_hash(event: Event) -> str:
    return hashlib.sha256(canonical(event).encode("utf-8")).hexdigest()


def append_event(
    incident: Incident | None, actor: str, kind: str, detail: dict | None = None, at: datetime | None = None,
    seq: int | None = None,
) -> Event:
    """Append one event to this node's chain. Call inside the write transaction of the change.
    `seq` is given only by a restore's fence (sync/rejoin.py); otherwise the next number."""
    node = node_id()
    at = at or utcnow()
    last = Event.select(Event.seq, Event.hash).where(Event.node == node).order_by(Event.seq.desc()).first()
    event = Event(
        node=node,
        incident=incident,
        seq=seq or ((last.seq + 1) if last else 1),
        at=at,
        actor=actor,
        kind=kind,
        detail=json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str),
        prev_hash=last.hash if last else GENESIS,
    )
    event.created_at = event.at
    event.hash = event_hash(event)
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainProblem:
    node: str
    seq: int
    event_id: str
    reason: str


RESTORED = "node.restored"


def _restore_anchor(node: str, event: Event) -> tuple[bool, str]:
    """(whether it is here, its hash) of the event a `node.restored` event chains to: the last one
    the restored backup held, named by its `after_seq` (0: the chain's start)."""
    after = json.loads(event.detail or "{}").get("after_seq")
    if not isinstance(after, int) or after < 0 or after >= event.seq:
        return False, ""
    if after == 0:
        return True, GENESIS
    anchor = Event.select(Event.hash).where((Event.node == node) & (Event.seq == after)).first()
    return (True, anchor.hash) if anchor else (False, "")


def verify() -> tuple[int, list[ChainProblem]]:
    """Check every node's chain; returns (events checked, problems found).

    This node's own chain must be complete. Other nodes' chains arrive by sync and may be
    partial on purpose (an agency station gets only its own agency's timeline): there,
    every event's hash is checked, and the link to the previous event wherever it is here.
    """
    problems: list[ChainProblem] = []
    checked = 0
    own = node_id()
    nodes = [row.node for row in Event.select(Event.node).distinct()]
    for node in nodes:
        prev_hash = GENESIS
        expected_seq = 1
        for event in Event.select().where(Event.node == node).order_by(Event.seq):
            checked += 1
            consecutive = event.seq == expected_seq
            if not consecutive and event.kind == RESTORED:
                # A restore's fence (sync/rejoin.py): the chain goes on from the backup's last event.
                consecutive, prev_hash = _restore_anchor(node, event)
            if not consecutive and node == own:
                problems.append(ChainProblem(node, event.seq, event.id, f"gap: expected seq {expected_seq}"))
            if consecutive and event.prev_hash != prev_hash:
                problems.append(ChainProblem(node, event.seq, event.id, "prev_hash does not match"))
            if event_hash(event) != event.hash:
                problems.append(ChainProblem(node, event.seq, event.id, "content does not match its hash"))
            prev_hash = event.hash
            expected_seq = event.seq + 1
    return checked, problems
