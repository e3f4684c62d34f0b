"""Applying received changes to the node's database: idempotent, crash-safe, order-tolerant.

One transaction per batch: capture triggers are switched off (received changes are
logged as received, not as new local changes), each change is skipped if its
(origin, origin_seq) is already known, merged column by column with `sync.merge`,
and logged in `sync_change`; a change whose parent row has not arrived yet is parked in
`sync_pending` and retried after every batch. The clock follows the newest remote HLC.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from peewee import IntegrityError

from edge.dialect import is_foreign_key_error, sql
from edge.models import REPLICATED_MODELS, db_proxy
from sync import clock
from sync.merge import Change, wins
from sync.models import SyncChange, SyncClock, SyncPending

log = logging.getLogger("siaga112.sync.apply")

TABLES = {m._meta.table_name: m for m in REPLICATED_MODELS}
FIELDS = {name: {f.column_name: f for f in m._meta.sorted_fields} for name, m in TABLES.items()}
COLUMNS = {name: set(fields) for name, fields in FIELDS.items()}
APPEND_ONLY = {"event"}


class Park(Exception):
    """The change cannot apply yet (a row it refers to is missing); keep it for later."""


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    rejected: int = 0
    unparked: int = 0


def validate(change: Change) -> str | None:
    """Why a change can never apply here (unknown table or column), or None."""
    if change.tbl not in TABLES:
        return f"unknown table {change.tbl!r}"
    unknown = set(change.data) - COLUMNS[change.tbl]
    if "id" in change.data or unknown:
        return f"unknown columns {sorted(unknown | ({'id'} & set(change.data)))} for {change.tbl}"
    return None


def _known(change: Change) -> bool:
    return (
        SyncChange.select().where((SyncChange.origin == change.origin) & (SyncChange.origin_seq == change.origin_seq))
        .exists()
    )


def _current_winners(change: Change) -> dict[str, Change]:
    rows = (SyncChange.select(SyncChange.origin, SyncChange.origin_seq, SyncChange.hlc, SyncChange.op,
                              SyncChange.data)
            .where((SyncChange.tbl == change.tbl) & (SyncChange.pk == change.pk)).tuples())
    winners: dict[str, Change] = {}
    for origin, seq, hlc, op, data in rows:
        stored = Change.from_row(origin, seq, hlc, change.tbl, change.pk, op, data)
        for col in stored.data:
            if col in change.data and wins(change.tbl, col, stored, winners.get(col)):
                winners[col] = stored
    return winners


def _db_values(table: str, data: dict) -> list:
    """Wire values (as SQLite holds them: 1/0, datetime text) in the column's database type,
    through the same peewee conversion as a local write; the same values on SQLite."""
    fields = FIELDS[table]
    return [None if value is None else fields[col].db_value(value) for col, value in data.items()]


def _apply_one(change: Change) -> None:
    table = change.tbl
    db = db_proxy.obj
    exists = db.execute_sql(sql(db, f'SELECT 1 FROM "{table}" WHERE id = ?'), (change.pk,)).fetchone() is not None
    if not exists:
        if change.op != "insert":
            raise Park("row not created yet")
        cols = ["id", *change.data]
        quoted = ", ".join(f'"{c}"' for c in cols)  # names checked against the model by validate()
        try:
            db.execute_sql(
                sql(db, f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" for _ in cols)})'),
                [change.pk, *_db_values(table, change.data)],
            )
        except IntegrityError as exc:
            if is_foreign_key_error(exc):
                raise Park("parent row missing") from exc
            raise
        return
    if table in APPEND_ONLY:
        return  # an append-only row never changes after its insert
    current = _current_winners(change)
    winning = {col: value for col, value in change.data.items() if wins(table, col, change, current.get(col))}
    if winning:
        sets = ", ".join(f'"{col}" = ?' for col in winning)
        try:
            db.execute_sql(sql(db, f'UPDATE "{table}" SET {sets} WHERE id = ?'),
                           [*_db_values(table, winning), change.pk])
        except IntegrityError as exc:
            if is_foreign_key_error(exc):
                raise Park("parent row missing") from exc
            raise


def _log(change: Change, via: str) -> None:
    SyncChange.insert(origin=change.origin, origin_seq=change.origin_seq, hlc=change.hlc, tbl=change.tbl,
                      pk=change.pk, op=change.op, data=json.dumps(change.data, ensure_ascii=False,
                                                                  separators=(",", ":")), via=via).execute()


def _try(change: Change, via: str) -> None:
    """Apply and log one change in a savepoint: a parked or failed change leaves nothing behind."""
    with db_proxy.obj.atomic():
        _apply_one(change)
        _log(change, via)


def apply_batch(changes: list[Change], via: str) -> ApplyResult:
    """Apply `changes` received from peer `via` in one transaction. Call inside nothing:
    it opens its own write transaction."""
    result = ApplyResult()
    db = db_proxy.obj
    with db.atomic("IMMEDIATE"):
        SyncClock.update(capture=0).where(SyncClock.id == 1).execute()
        newest = 0
        for change in changes:
            problem = validate(change)
            if problem:
                log.warning("rejected change %s/%s from %s: %s", change.origin, change.origin_seq, via, problem)
                result.rejected += 1
                continue
            if _known(change) or SyncPending.select().where(
                    (SyncPending.origin == change.origin) & (SyncPending.origin_seq == change.origin_seq)).exists():
                result.duplicates += 1
                continue
            newest = max(newest, change.hlc)
            try:
                _try(change, via)
                result.applied += 1
            except Park as exc:
                SyncPending.insert(origin=change.origin, origin_seq=change.origin_seq, via=via,
                                   change=json.dumps(change.to_wire(), ensure_ascii=False), reason=str(exc)).execute()
                result.parked += 1
            except IntegrityError as exc:
                log.error("change %s/%s from %s conflicts: %s (parked)", change.origin, change.origin_seq, via, exc)
                SyncPending.insert(origin=change.origin, origin_seq=change.origin_seq, via=via,
                                   change=json.dumps(change.to_wire(), ensure_ascii=False),
                                   reason=f"conflict: {exc}").execute()
                result.parked += 1
        result.unparked = _retry_parked()
        row = SyncClock.get_by_id(1)
        SyncClock.update(capture=1, hlc=clock.receive(row.hlc, newest)).where(SyncClock.id == 1).execute()
    return result


def _retry_parked() -> int:
    """Apply parked changes whose parents have arrived; repeat while progress is made."""
    done_total = 0
    while True:
        done = 0
        for pending in list(SyncPending.select().order_by(SyncPending.id)):
            change = Change.from_wire(json.loads(pending.change))
            try:
                with db_proxy.obj.atomic():
                    _try(change, pending.via)
                    pending.delete_instance()
                done += 1
            except (Park, IntegrityError):
                continue
        done_total += done
        if not done:
            return done_total
