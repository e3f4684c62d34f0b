"""What travels inside an envelope: a batch of changes or an acknowledgement, as
compressed JSON. Pure functions; every malformed input raises `BadPayload`.

    batch: {"upto": <sender's change id covered>,
            "c": [[origin, origin_seq, hlc, tbl, pk, op, {col: value}], ...]}
    ack:   {"upto": <the sender's change id we have applied through>, "n": <changes applied>}
    rejoin:   {"upto": <central's change id the restored node holds through>,
               "above": <its last own origin_seq in the backup>, "below": <its first fenced origin_seq>}
    rejoined: {"upto": <central's checkpoint for the node after the rewind>, "n": <own changes going back>}
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from sync.merge import Change

MAX_INFLATED = 32 * 1024 * 1024  # a zip bomb stops here
MAX_INT = 2**63 - 1  # change ids are SQLite INTEGERs: anything larger cannot be stored


class BadPayload(ValueError):
    """An envelope's payload is not a well-formed batch or acknowledgement."""


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 6)


def _unpack(data: bytes) -> dict:
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise BadPayload("payload inflates beyond the limit")
        obj = json.loads(raw.decode("utf-8"))
    except BadPayload:
        raise
    except (zlib.error, ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, or an int over 4300 digits
        raise BadPayload(f"undecodable payload: {exc}") from exc
    if not isinstance(obj, dict):
        raise BadPayload("payload is not an object")
    upto = obj.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or not 0 <= upto <= MAX_INT:
        raise BadPayload("missing or bad 'upto'")
    return obj


def encode_batch(changes: list[Change], upto: int) -> bytes:
    return _pack({"upto": upto, "c": [c.to_wire() for c in changes]})


def decode_batch(data: bytes) -> tuple[list[Change], int]:
    obj = _unpack(data)
    items = obj.get("c")
    if not isinstance(items, list):
        raise BadPayload("missing change list")
    changes = []
    for i, item in enumerate(items):
        try:
            changes.append(Change.from_wire(item))
        except ValueError as exc:
            raise BadPayload(f"change {i}: {exc}") from exc
    return changes, obj["upto"]


def encode_ack(upto: int, applied: int) -> bytes:
    return _pack({"upto": upto, "n": applied})


def decode_ack(data: bytes) -> int:
    return _unpack(data)["upto"]


def _count(obj: dict, key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise BadPayload(f"missing or bad {key!r}")
    return value


def encode_rejoin(upto: int, above: int, below: int) -> bytes:
    return _pack({"upto": upto, "above": above, "below": below})


def decode_rejoin(data: bytes) -> tuple[int, int, int]:
    """(upto, above, below) of a restored node's REJOIN request."""
    obj = _unpack(data)
    above, below = _count(obj, "above"), _count(obj, "below")
    if above >= below:
        raise BadPayload("'above' must be below 'below'")
    return obj["upto"], above, below


def encode_rejoined(upto: int, returned: int) -> bytes:
    return _pack({"upto": upto, "n": returned})


def decode_rejoined(data: bytes) -> tuple[int, int]:
    obj = _unpack(data)
    return obj["upto"], _count(obj, "n")
