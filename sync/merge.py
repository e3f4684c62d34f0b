"""Deterministic merge of replicated changes: pure functions over values, no database.

Every column of every row converges to the value of its *winning* change, the maximum
under `column_key`. Because "take the maximum under a total order" is commutative,
associative and idempotent, nodes that have seen the same set of changes, in any order,
any number of times, hold the same rows. The rules per column:

- default: last writer wins by (hlc, origin node, origin seq);
- `dispatch.status`: the furthest status wins (a late "sent" never undoes "finished");
- `incident.status`: "closed" wins over any other status, otherwise last writer wins;
- dispatch step times (`*_at`): a value wins over an empty one, then last writer wins;
- append-only tables (`event`): rows are only ever inserted, so the row set is the union.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.enums import DispatchStatus

_DISPATCH_RANK = {s.value: s.rank for s in DispatchStatus}
OPS = ("insert", "update")


def _column_value(value: Any) -> bool:
    """What an SQLite column can hold (rows travel as json_group_object of their columns)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    return value is None or isinstance(value, bool | float | str)


@dataclass(frozen=True)
class Change:
    """One change of one row as it travels: who made it, when (HLC), which columns."""

    origin: str
    origin_seq: int
    hlc: int
    tbl: str
    pk: str
    op: str
    data: Mapping[str, Any] = field(hash=False, compare=True)

    @property
    def uid(self) -> tuple[str, int]:
        return (self.origin, self.origin_seq)

    def to_wire(self) -> list:
        return [self.origin, self.origin_seq, self.hlc, self.tbl, self.pk, self.op, dict(self.data)]

    @classmethod
    def from_wire(cls, item: Any) -> Change:
        """Parse one change from its wire form; ValueError names what is wrong."""
        if not isinstance(item, list) or len(item) != 7:
            raise ValueError("change must be a list of 7 items")
        origin, seq, hlc, tbl, pk, op, data = item
        if not (isinstance(origin, str) and 0 < len(origin) <= 64):
            raise ValueError("bad origin")
        if not (isinstance(seq, int) and not isinstance(seq, bool) and 0 < seq < 2**63):  # an SQLite INTEGER
            raise ValueError("bad origin_seq")
        if not (isinstance(hlc, int) and not isinstance(hlc, bool) and 0 <= hlc < 2**63):
            raise ValueError("bad hlc")
        if not (isinstance(tbl, str) and isinstance(pk, str) and 0 < len(pk) <= 64):
            raise ValueError("bad table or key")
        if op not in OPS:
            raise ValueError("bad op")
        if not isinstance(data, dict) or not data or not all(isinstance(k, str) for k in data):
            raise ValueError("bad data")
        if not all(_column_value(v) for v in data.values()):
            raise ValueError("bad data: a column value must be null, true/false, a 64-bit integer, a number or text")
        return cls(origin, seq, hlc, tbl, pk, op, data)

    @classmethod
    def from_row(cls, origin: str, origin_seq: int, hlc: int, tbl: str, pk: str, op: str, data: str) -> Change:
        return cls(origin, origin_seq, hlc, tbl, pk, op, json.loads(data))


def column_key(tbl: str, col: str, change: Change) -> tuple:
    """The order in which changes of (tbl, col) win; the greater key wins."""
    base = (change.hlc, change.origin, change.origin_seq)
    value = change.data.get(col)
    if tbl == "dispatch" and col == "status":
        return (_DISPATCH_RANK.get(value, -1), *base)
    if tbl == "incident" and col == "status":
        return (1 if value == "closed" else 0, *base)
    if tbl == "dispatch" and col.endswith("_at"):
        return (0 if value is None else 1, *base)
    return (0, *base)


def wins(tbl: str, col: str, incoming: Change, current: Change | None) -> bool:
    return current is None or column_key(tbl, col, incoming) > column_key(tbl, col, current)


Winners = dict[tuple[str, str], dict[str, Change]]


def fold(changes: Iterable[Change], into: Winners | None = None) -> Winners:
    """Winning change per (table, key) and column, starting from `into` (not modified)."""
    state: Winners = {k: dict(v) for k, v in (into or {}).items()}
    for change in changes:
        row = state.setdefault((change.tbl, change.pk), {})
        for col in change.data:
            if wins(change.tbl, col, change, row.get(col)):
                row[col] = change
    return state


def merge(a: Winners, b: Winners) -> Winners:
    """Join two states (what two nodes know) into the state that knows both."""
    return fold((c for row in b.values() for c in row.values()), a)


def values(state: Winners) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows a state describes: each column's winning value."""
    return {key: {col: ch.data[col] for col, ch in row.items()} for key, row in state.items()}
