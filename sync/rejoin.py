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

Central restored from a backup rejoins the same way, with every node: each rewinds its
checkpoint for central, sends its stream again and gives back central's own changes it holds
(users, agencies, profiles made at central). The restored node asks each of its peers until
every one has answered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from edge.models import Counter, Event
from edge.services import delete_setting, node_id, set_setting, setting, write_tx
from edge.services.audit import RESTORED, append_event
from edge.timeutil import utcnow, wib_today
from sync.models import SyncChange, SyncPeer

log = logging.getLogger("siaga112.sync.rejoin")

SEQ_FENCE = 1_000_000  # changes, events or envelopes one node makes in far more than a year
CASES_FENCE_PER_DAY = 1_000  # case numbers a posko could have drawn per day since the backup
RECOVERY_FENCE = 50_000_000  # a node rebuilt from central with no backup: beyond years of one node's numbers
RECOVERY_CASES = 50_000  # ... and its case numbers this year start after this one
PENDING_KEY = "sync_rejoin"  # node_setting on the restored node, until every peer answers REJOINED
RETURN_PREFIX = "sync_rejoin_return:"  # node_setting on a peer, per restored node it returns changes to
SEQ_FLOOR_KEY = "sync_seq_floor"  # node_setting: envelope seq of a peer row created after a restore
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
    """On a peer: which of a restored node's own changes go back to it, until it has acknowledged `until_id`."""

    above: int
    below: int
    until_id: int

    def covers(self, origin_seq: int) -> bool:
        return self.above < origin_seq < self.below


@dataclass
class Counters:
    """A node's sequences as one database holds them (the restored one, or the one it replaced)."""

    change_id: int = 0
    origin_seq: int = 0
    event_seq: int = 0
    seq_floor: int = 0
    send_seq: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)

    def at_least(self, other: Counters | None) -> Counters:
        """The larger of each counter (a node restored twice must fence past both incarnations)."""
        if other is None:
            return self
        return Counters(max(self.change_id, other.change_id), max(self.origin_seq, other.origin_seq),
                        max(self.event_seq, other.event_seq), max(self.seq_floor, other.seq_floor),
                        {k: max(self.send_seq.get(k, 0), other.send_seq.get(k, 0)) for k in {*self.send_seq,
                                                                                           *other.send_seq}},
                        {k: max(self.cases.get(k, 0), other.cases.get(k, 0)) for k in {*self.cases, *other.cases}})


def read_counters(execute: Callable[[str, tuple], list], node: str) -> Counters:
    """`node`'s counters through `execute(sql, params) -> rows` (peewee or a bare sqlite3 connection)."""
    one = lambda q, p=(): (execute(q, p) or [(None,)])[0][0] or 0  # noqa: E731
    return Counters(
        change_id=one("SELECT MAX(id) FROM sync_change"),
        origin_seq=one("SELECT MAX(origin_seq) FROM sync_change WHERE origin = ?", (node,)),
        event_seq=one("SELECT MAX(seq) FROM event WHERE node = ?", (node,)),
        seq_floor=int(one("SELECT value FROM node_setting WHERE key = ?", (SEQ_FLOOR_KEY,))),
        send_seq=dict(execute("SELECT node, send_seq FROM sync_peer", ())),
        cases=dict(execute("SELECT name, value FROM counter WHERE name LIKE 'case_no:%'", ())))


def replaced_counters(path: Path, node: str) -> Counters | None:
    """The counters of the database a restore replaced (kept aside), if it can still be read: a
    node restored a second time from the same backup has used numbers the backup does not show."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as con:
            return read_counters(lambda q, p: con.execute(q, p).fetchall(), node)
    except sqlite3.Error as exc:  # a dead disk's database: the usual reason for a restore
        log.info("replaced database %s not readable (%s): fencing from the backup alone", path, exc)
        return None


def fence_restored(backup_created_at: datetime, now: datetime | None = None,
                   replaced: Path | None = None) -> Fence:
    """Lift every sequence of this (just restored) node past what it may have used since
    `backup_created_at` (and past the database at `replaced`, if readable), and put
    `node.restored` on its chain."""
    now = now or utcnow()
    age_days = max(0.0, (now - backup_created_at.replace(tzinfo=None)).total_seconds() / 86400)
    return _fence(now, SEQ_FENCE, CASES_FENCE_PER_DAY * (math.ceil(age_days) + 1), replaced,
                  {"backup_created_at": backup_created_at.isoformat()})


def fence_recovered(now: datetime | None = None) -> Fence:
    """A node created anew (`siaga112 init --bundle --recover`) under the id of one that lost its
    disk with no usable backup: nothing says how far its numbers went, so they start far beyond
    anything one node uses in years, and the REJOIN asks for all of its own changes back."""
    now = now or utcnow()
    return _fence(now, RECOVERY_FENCE, 0, None, {"recovered": True},
                  cases_from={f"case_no:{wib_today().year}": RECOVERY_CASES})


def _fence(now: datetime, fence: int, cases_skipped: int, replaced: Path | None, detail: dict,
           cases_from: dict[str, int] | None = None) -> Fence:
    db = SyncChange._meta.database
    with write_tx():
        me = node_id()
        mine = read_counters(lambda q, p: db.execute_sql(q, p).fetchall(), me)
        used = mine.at_least(replaced_counters(replaced, me) if replaced and replaced.exists() else None)
        last = Event.select(Event.seq).where(Event.node == me).order_by(Event.seq.desc()).first()
        own_above, own_below = mine.origin_seq, used.origin_seq + fence
        # Lift origin_seq (the capture trigger numbers the next change MAX(origin_seq) + 1) and the
        # log's own ids (the next is MAX(id) + 1): peers' checkpoints count those, and a peer that
        # acknowledged ids up to some number after the backup would skip new changes below it.
        marker = SyncChange.create(id=used.change_id + fence, origin=me, origin_seq=own_below - 1, hlc=0,
                                   tbl=FENCE_TABLE, pk="", op="fence", data="{}", via="")
        event = append_event(None, "system", RESTORED, {
            **detail, "after_seq": last.seq if last else 0, "own_changes_above": own_above,
            "cases_skipped": cases_skipped}, seq=used.event_seq + fence)
        marker.delete_instance()
        counters = {name: value + cases_skipped for name, value in used.cases.items()}
        for name, value in {**counters, **(cases_from or {})}.items():
            Counter.insert(name=name, value=max(value, counters.get(name, 0))).on_conflict(
                conflict_target=[Counter.name], preserve=[Counter.value]).execute()
        for peer, seq in used.send_seq.items():
            SyncPeer.insert(node=peer, send_seq=seq + fence).on_conflict(
                conflict_target=[SyncPeer.node], preserve=[SyncPeer.send_seq]).execute()
        set_setting(SEQ_FLOOR_KEY, str(used.seq_floor + fence))  # a peer it had not written to yet
        set_setting(PENDING_KEY, json.dumps({"own_above": own_above, "own_below": own_below,
                                             "restored_at": now.isoformat(), "answered": []}))
    log.info("node %s fenced: own changes above %d lost locally, events from %d, %d case numbers skipped",
             me, own_above, event.seq, cases_skipped)
    return Fence(me, own_above, own_below, event.seq, cases_skipped)


def seq_floor() -> int:
    """The first envelope seq towards a peer this node has no row for (0 unless it was restored)."""
    return int(setting(SEQ_FLOOR_KEY) or 0)


def pending() -> dict | None:
    """The restored node's REJOIN request, while some peer has not answered it."""
    value = setting(PENDING_KEY)
    return json.loads(value) if value else None


def waiting_for(request: dict | None, peers: list[str]) -> list[str]:
    """The peers a restored node (its `pending()` request) still has to ask; none when it is not rejoining."""
    return [] if request is None else [p for p in peers if p not in request.get("answered", [])]


def finished(peer: str, returned: int, peers: list[str]) -> None:
    """`peer` answered REJOINED; once every one of `peers` has, stop asking."""
    with write_tx():
        request = pending()
        if request is None or peer in request["answered"]:
            return
        request["answered"].append(peer)
        if set(peers) <= set(request["answered"]):
            delete_setting(PENDING_KEY)
        else:
            set_setting(PENDING_KEY, json.dumps(request))
    log.info("rejoined %s: it returns %d of this node's own changes", peer, returned)


def accept(node: str, own_above: int, own_below: int, recv_upto: int) -> int:
    """On a peer of a restored `node` (central, or a node when central was restored): `node`
    holds this peer's stream up to `recv_upto` and lost its own changes in (own_above,
    own_below). Rewind its checkpoint and start returning them; the number of its own changes
    that go back. Audited on this peer's chain."""
    with write_tx():
        SyncPeer.insert(node=node, send_seq=seq_floor()).on_conflict_ignore().execute()
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
    """On a peer: the range of `node`'s own changes being sent back to it, if any."""
    value = setting(RETURN_PREFIX + node)
    return ReturnRange(**json.loads(value)) if value else None


def returned_through(node: str, acked_change_id: int) -> None:
    """On a peer: `node` acknowledged through `acked_change_id`; stop returning once it has them all."""
    current = returning(node)
    if current is not None and acked_change_id >= current.until_id:
        with write_tx():
            delete_setting(RETURN_PREFIX + node)
        log.info("node %s has its own changes back", node)

