"""Hybrid logical clock (Kulkarni et al., 2014) as one 64-bit integer.

A timestamp is `wall milliseconds << 16 | logical counter`. Every local change takes
max(last + 1, now << 16); every received change pushes the clock to at least its
timestamp, so an edit made after seeing another node's edit always sorts after it,
even on a posko whose wall clock is an hour wrong. Concurrent edits are ordered by
(hlc, origin node), which every node computes the same way.

The same rule is written twice on purpose and must stay equal: in Python (`tick`,
`receive`) and as SQL (`SQL_TICK`) for the triggers that stamp local changes inside the
writing transaction, whichever process writes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1
# A remote clock further ahead than this is not followed (its change still applies):
# one misconfigured node must not drag every other node's clock into next week.
MAX_DRIFT_MS = 24 * 60 * 60 * 1000

# SQLite expression: wall-clock milliseconds shifted into HLC position.
SQL_WALL = "(CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) << 16)"
# SQLite expression: the next local timestamp given the stored one in column `hlc`.
SQL_TICK = f"max(hlc + 1, {SQL_WALL})"


def pack(wall_ms: int, logical: int = 0) -> int:
    return (wall_ms << LOGICAL_BITS) | (logical & LOGICAL_MASK)


def unpack(hlc: int) -> tuple[int, int]:
    return hlc >> LOGICAL_BITS, hlc & LOGICAL_MASK


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def tick(last: int, now_ms: int | None = None) -> int:
    """The timestamp of a new local event."""
    return max(last + 1, pack(wall_ms() if now_ms is None else now_ms))


def receive(last: int, remote: int, now_ms: int | None = None) -> int:
    """The local clock after seeing `remote` (bounded by MAX_DRIFT_MS ahead of wall time)."""
    now = wall_ms() if now_ms is None else now_ms
    if unpack(remote)[0] > now + MAX_DRIFT_MS:
        remote = pack(now + MAX_DRIFT_MS)
    return max(last, remote)


def to_datetime(hlc: int) -> datetime:
    """The wall-clock part as a naive UTC datetime (for display and logs)."""
    return datetime.fromtimestamp(unpack(hlc)[0] / 1000, UTC).replace(tzinfo=None)
