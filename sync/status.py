"""Sync state as people see it: online or not, changes waiting, last contact with central.

Read from the node's own database (the daemon writes it), so the web app's header and
`siaga112 sync status` need no connection to the daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from peewee import fn

from sync.models import SyncChange, SyncPeer, SyncPending, SyncStatus


@dataclass
class PeerStatus:
    node: str
    online: bool
    backlog: int
    last_received_at: datetime | None
    last_acked_at: datetime | None

    @property
    def last_contact(self) -> datetime | None:
        times = [t for t in (self.last_received_at, self.last_acked_at) if t]
        return max(times) if times else None


@dataclass
class NodeStatus:
    enabled: bool
    connected: bool
    peers: list[PeerStatus] = field(default_factory=list)
    progress: dict = field(default_factory=dict)
    rejoining: bool = False  # restored from a backup, central has not taken it back yet (sync/rejoin.py)
    parked: int = 0  # received changes that cannot apply yet (sync_pending)
    parked_since: datetime | None = None  # when the oldest of them arrived
    reused: int = 0  # of those, changes that reuse another change's number (a node reset by hand)

    @property
    def backlog(self) -> int:
        return sum(p.backlog for p in self.peers)

    @property
    def last_contact(self) -> datetime | None:
        times = [p.last_contact for p in self.peers if p.last_contact]
        return max(times) if times else None


def write_status(key: str, value: str) -> None:
    """Set one status value (an upsert that works on SQLite and PostgreSQL alike)."""
    SyncStatus.insert(key=key, value=value).on_conflict(
        conflict_target=[SyncStatus.key], preserve=[SyncStatus.value]).execute()


def device_status(device: str = "modem") -> dict | None:
    """The last state the bridge wrote for its GSM modem ("modem") or radio TNC ("radio");
    None when no bridge runs here with that device."""
    row = SyncStatus.get_or_none(SyncStatus.key == device)
    if row is None:
        return None
    try:
        return json.loads(row.value)
    except ValueError:
        return None


def node_status() -> NodeStatus:
    from sync.apply import REUSED
    from sync.rejoin import pending

    values = {row.key: row.value for row in SyncStatus.select()}
    last_id = SyncChange.select(SyncChange.id).order_by(SyncChange.id.desc()).scalar() or 0
    peers = [
        PeerStatus(p.node, p.online, max(0, last_id - p.acked_change_id) if p.acked_change_id or last_id else 0,
                   p.last_received_at, p.last_acked_at)
        for p in SyncPeer.select().order_by(SyncPeer.node)
    ]
    return NodeStatus(
        enabled="connected" in values,
        connected=values.get("connected") == "1",
        peers=peers,
        progress=json.loads(values.get("progress", "{}")),
        rejoining=pending() is not None,
        parked=SyncPending.select().count(),
        parked_since=SyncPending.select(fn.MIN(SyncPending.first_seen)).scalar(),
        reused=SyncPending.select().where(SyncPending.reason == REUSED).count(),
    )
