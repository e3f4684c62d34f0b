"""Sync's own tables: the change log (outbox and inbox in one), the clock, peers, parked changes.

They live in each node's database next to the data model (edge/models.py), so that a
change and its log row commit in one transaction. None of them is replicated.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    IntegerField,
    TextField,
)

from edge.models import BaseModel
from edge.timeutil import utcnow


class SyncChange(BaseModel):
    """One committed change of one replicated row, local or received.

    `id` is this node's own order (what peers' checkpoints count); (`origin`,
    `origin_seq`) identifies the change everywhere; `data` holds the changed columns
    as JSON; `via` is the peer a received change came from ('' for local changes).
    """

    id = AutoField()
    origin = CharField(max_length=64)
    origin_seq = IntegerField()
    hlc = BigIntegerField()
    tbl = CharField(max_length=32)
    pk = CharField(max_length=64)
    op = CharField(max_length=8)
    data = TextField()
    via = CharField(max_length=64, default="")
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "sync_change"
        indexes = ((("origin", "origin_seq"), True), (("tbl", "pk"), False))


class SyncClock(BaseModel):
    """The node's hybrid logical clock (one row) and the switch that stops the capture
    triggers while received changes are applied (so they are not captured twice)."""

    id = IntegerField(primary_key=True)
    hlc = BigIntegerField(default=0)
    capture = IntegerField(default=1)

    class Meta:
        table_name = "sync_clock"


class SyncPeer(BaseModel):
    """What this node knows of one peer: checkpoints both ways and envelope sequences."""

    node = CharField(primary_key=True, max_length=64)
    acked_change_id = IntegerField(default=0)  # our changes up to here are stored by the peer
    send_seq = IntegerField(default=0)  # last envelope seq we sent to it
    recv_seq = IntegerField(default=0)  # last envelope seq we accepted from it
    recv_upto = IntegerField(default=0)  # its change id up to which we have applied its stream
    last_received_at = DateTimeField(null=True)
    last_acked_at = DateTimeField(null=True)
    online = BooleanField(default=False)  # its retained state topic, as last seen
    backlog = IntegerField(default=0)  # changes waiting to be sent to it (as last counted)

    class Meta:
        table_name = "sync_peer"


class SyncPending(BaseModel):
    """A received change that cannot apply yet (its parent row has not arrived)."""

    id = AutoField()
    origin = CharField(max_length=64)
    origin_seq = IntegerField()
    via = CharField(max_length=64, default="")
    change = TextField()
    reason = TextField(default="")
    first_seen = DateTimeField(default=utcnow)

    class Meta:
        table_name = "sync_pending"
        indexes = ((("origin", "origin_seq"), True),)


class SyncStatus(BaseModel):
    """Key/value status the daemon writes for the web app's header (connected, progress)."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()

    class Meta:
        table_name = "sync_status"


SYNC_MODELS = (SyncChange, SyncClock, SyncPeer, SyncPending, SyncStatus)
