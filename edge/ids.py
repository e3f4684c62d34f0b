"""Globally unique record ids: UUIDv7 (RFC 9562), time-ordered so indexes stay compact.

Every node creates records offline; ids must never collide when central merges them,
and sorting by id roughly follows creation time. Python 3.11 has no uuid7, hence this.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A new UUIDv7 as a 36-character string, monotonic within this process."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = ms
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= (_counter & 0xFFF) << 64
        value |= 0b10 << 62
        value |= rand_b
    return str(uuid.UUID(int=value))


_NAMESPACE = uuid.UUID("5d1a6a2e-8a6e-4f0b-9c38-112112112112")


def stable_id(kind: str, key: str) -> str:
    """A deterministic id (UUIDv5) for records that several nodes create independently but
    that must be one record once synced: an agency by code, a user by name, a profile by
    id, the dispatch of one incident to one agency."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))
