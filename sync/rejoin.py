"""Re-joining sync after a node is restored from a backup.

A backup holds the node's sequences as they were when it was taken: the origin_seq of its
changes, its audit chain's `seq`, its case-number counters and its envelope sequences. What
the node did after the backup already used the numbers after those, and central holds it.
Reusing them would make central drop the node's next changes as duplicates (same origin and
origin_seq), park its next events forever (same node and seq), refuse its envelopes as
replays and collide on case numbers. So a restore does two things:

1. **Fence** (`fence_restored`, run by `siaga112 restore` before any daemon starts): every
   sequence (origin_seq, the change log's ids, audit seq, envelope seq, case numbers) jumps
   past anything the node can have used since the backup, and the first event
   after the jump is `node.restored`, chained to the last event the backup holds. The fork is
   written on the chain, not hidden: `edge.services.audit.verify` accepts the gap in front of
   a `node.restored` event whose `prev_hash` is the hash of the event it names. The node can
   take calls at once, network or not.
2. **Rejoin** (the sync daemon, whenever central is reachable): the node sends a signed,
   sequenced REJOIN envelope saying what it holds: the last change of central's stream it has
   applied, and the range of its own origin_seq it lost (above what the backup holds, below
   the fence). Central rewinds its checkpoint for the node to that point, sends its stream
   again, and sends back the node's own lost changes (`returning`), then answers REJOINED.
   Changes the node made after the backup and never sent are gone with its disk: the
   `node.restored` event says when the backup was taken.

Only a posko or agency station rejoins (its one peer is central); central itself is restored
with `pg_restore` or a new central (docs/operations.md).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime

from edge.models import Counter, Event
from edge.services import delete_setting, node_id, set_setting, setting, write_tx
from edge.services.audit import RESTORED, append_event
from edge.timeutil import utcnow
from sync.models import SyncChange, SyncPeer

log = logging.getLogger("siaga112.sync.rejoin")

SEQ_FENCE = 1_000_000  # changes, events or envelopes one node makes in far more than a year
CASES_FENCE_PER_DAY = 1_000  # case numbers a posko could have drawn per day since the backup
PENDING_KEY = "sync_rejoin"  # node_setting on the restored node, until central answers REJOINED
RETURN_PREFIX = "sync_rejoin_return:"  # node_setting on central, per node it is returning changes to
FENCE_TABLE = "_fence"  # a sync_change row that only lifts origin_seq; removed in the same transaction


@dataclass(frozen=True)
class Fence:
    node: str
    own_above: int  # the backup's last own origin_seq: central returns the node's changes above it
    own_below: int  # the first fenced origin_seq: everything from here on was made after the restore
    event_seq: int  # seq of the node.restored event
    cases_skipped: int


@dataclass(frozen=True)
class ReturnRange:
    """On central: which of a node's own changes go back to it, until it has acknowledged `until_id`."""

    above: int
    below: int
    until_id: int

    def covers(self, origin_seq: int) -> bool:
        return self.above < origin_seq < self.below


def fence_restored(backup_created_at: datetime, now: datetime | None = None) -> Fence:
    """Lift every sequence of this (just restored) node past what it may have used since
    `backup_created_at`, and put `node.restored` on its chain. Idempotent per restore: a second
    call fences again (harmless: the numbers only jump further)."""
    now = now or utcnow()
    age_days = max(0.0, (now - backup_created_at.replace(tzinfo=None)).total_seconds() / 86400)
    cases_skipped = CASES_FENCE_PER_DAY * (math.ceil(age_days) + 1)
    with write_tx():
        me = node_id()
        own_above = SyncChange.select(SyncChange.origin_seq).where(SyncChange.origin == me).order_by(
            SyncChange.origin_seq.desc()).scalar() or 0
        last = Event.select(Event.seq, Event.hash).where(Event.node == me).order_by(Event.seq.desc()).first()
        last_seq = last.seq if last else 0
        own_below = own_above + SEQ_FENCE
        # Lift origin_seq (the capture trigger numbers the next change MAX(origin_seq) + 1) and the
        # log's own ids (the next is MAX(id) + 1): peers' checkpoints count those, and a peer that
        # acknowledged ids up to some number after the backup would skip new changes below it.
        last_id = SyncChange.select(SyncChange.id).order_by(SyncChange.id.desc()).scalar() or 0
        marker = SyncChange.create(id=last_id + SEQ_FENCE, origin=me, origin_seq=own_below - 1, hlc=0,
                                   tbl=FENCE_TABLE, pk="", op="fence", data="{}", via="")
        event = append_event(None, "system", RESTORED, {
            "after_seq": last_seq, "backup_created_at": backup_created_at.isoformat(),
            "own_changes_above": own_above, "cases_skipped": cases_skipped}, seq=last_seq + SEQ_FENCE)
        marker.delete_instance()
        for counter in Counter.select().where(Counter.name.startswith("case_no:")):
            Counter.update(value=Counter.value + cases_skipped).where(Counter.name == counter.name).execute()
        SyncPeer.update(send_seq=SyncPeer.send_seq + SEQ_FENCE).execute()
        set_setting(PENDING_KEY, json.dumps({"own_above": own_above, "own_below": own_below,
                                             "restored_at": now.isoformat()}))
    log.info("restored node %s fenced: own changes above %d lost locally, events from %d, %d case numbers skipped",
             me, own_above, event.seq, cases_skipped)
    return Fence(me, own_above, own_below, event.seq, cases_skipped)


def pending() -> dict | None:
    """The restored node's REJOIN request, while central has not answered it."""
    value = setting(PENDING_KEY)
    return json.loads(value) if value else None


def finished(returned: int) -> None:
    """Central answered REJOINED: stop asking."""
    with write_tx():
        delete_setting(PENDING_KEY)
    log.info("rejoined: central returns %d of this node's own changes", returned)


def accept(node: str, own_above: int, own_below: int, recv_upto: int) -> int:
    """On central: a restored `node` holds central's stream up to `recv_upto` and lost its own
    changes in (own_above, own_below). Rewind its checkpoint and start returning them; the
    number of own changes that go back. Audited on central's chain."""
    with write_tx():
        SyncPeer.insert(node=node).on_conflict_ignore().execute()
        peer = SyncPeer.get_by_id(node)
        lost = SyncChange.select(SyncChange.id).where(
            (SyncChange.origin == node) & (SyncChange.origin_seq > own_above) & (SyncChange.origin_seq < own_below))
        ids = [row.id for row in lost]
        rewind = min([peer.acked_change_id, recv_upto, *(i - 1 for i in ids)])
        SyncPeer.update(acked_change_id=rewind, backlog=0).where(SyncPeer.node == node).execute()
        if ids:
            set_setting(RETURN_PREFIX + node, json.dumps({"above": own_above, "below": own_below,
                                                          "until_id": max(ids)}))
        append_event(None, "system", "node.rejoined", {"node": node, "returned": len(ids), "rewound_to": rewind,
                                                       "own_changes_above": own_above})
    log.info("node %s rejoins after a restore: checkpoint %d -> %d, %d of its own changes go back", node,
             peer.acked_change_id, rewind, len(ids))
    return len(ids)


def returning(node: str) -> ReturnRange | None:
    """On central: the range of `node`'s own changes being sent back to it, if any."""
    value = setting(RETURN_PREFIX + node)
    return ReturnRange(**json.loads(value)) if value else None


def returned_through(node: str, acked_change_id: int) -> None:
    """On central: `node` acknowledged through `acked_change_id`; stop returning once it has them all."""
    current = returning(node)
    if current is not None and acked_change_id >= current.until_id:
        with write_tx():
            delete_setting(RETURN_PREFIX + node)
        log.info("node %s has its own changes back", node)

