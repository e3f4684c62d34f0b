"""Applying received changes to the node's database: idempotent, crash-safe, order-tolerant.

One transaction per batch: capture triggers are switched off (received changes are
logged as received, not as new local changes), each change is skipped if its
(origin, origin_seq) is already known, merged column by column with `sync.merge`,
and logged in `sync_change`; a change whose parent row has not arrived yet is parked in
`sync_pending` and retried after every batch. The clock follows the newest remote HLC.

Mixed versions (docs/migrations.md): a change may carry a column this node's release does not
have yet (a peer was upgraded first). The known columns apply, the unknown ones are ignored
with a log line, and the change is logged whole, so it is relayed intact and the migration that
adds the column later replays its value (`replay_columns`). An insert from an older peer lacks
the newer columns: they take the model's default.
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
REUSED = "reused: (origin, origin_seq) names another change here"  # the reason of such a parked change


class Park(Exception):
    """The change cannot apply yet (a row it refers to is missing); keep it for later."""


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    rejected: int = 0
    unparked: int = 0


_warned_unknown: set[tuple[str, str]] = set()


def validate(change: Change) -> str | None:
    """Why a change can never apply here (unknown table, the key among its columns, an insert
    with no column this node knows), or None. Unknown columns beside known ones are not a reason:
    they come from a newer release and are ignored (`known_data`)."""
    if change.tbl not in TABLES:
        return f"unknown table {change.tbl!r}"
    if "id" in change.data:
        return f"change of the key column 'id' of {change.tbl}"
    if change.op == "insert" and not set(change.data) & COLUMNS[change.tbl]:
        return f"insert with no known column of {change.tbl}: {sorted(change.data)}"
    return None


def known_data(change: Change) -> dict:
    """The change's columns this node's schema has; the others (from a newer release) are left
    out, with a warning the first time each appears."""
    columns = COLUMNS[change.tbl]
    for col in change.data:
        if col not in columns and (change.tbl, col) not in _warned_unknown:
            _warned_unknown.add((change.tbl, col))
            log.warning("column %s.%s (from %s, a newer release?) is not in this node's schema: ignored here, "
                        "kept in sync_change and applied when this node is upgraded", change.tbl, col, change.origin)
    return {col: value for col, value in change.data.items() if col in columns}


def _defaults(table: str, data: dict) -> dict:
    """Model defaults of the NOT NULL columns an insert does not name (it comes from an older release)."""
    missing = {}
    for col, f in FIELDS[table].items():
        if col not in data and not f.primary_key and not f.null and f.default is not None:
            missing[col] = f.default() if callable(f.default) else f.default
    return missing


def _known(change: Change) -> SyncChange | None:
    """The logged change with the same (origin, origin_seq), if any."""
    return (SyncChange.select(SyncChange.tbl, SyncChange.pk, SyncChange.op, SyncChange.data)
            .where((SyncChange.origin == change.origin) & (SyncChange.origin_seq == change.origin_seq)).first())


def _reused(stored: SyncChange, change: Change) -> bool:
    """The same (origin, origin_seq) naming a different change: the origin numbers its changes
    again from an old point (re-installed without --recover, or a database copied back by
    hand instead of `siaga112 restore`). A resend of the same change is not."""
    return (stored.tbl, stored.pk, stored.op) != (change.tbl, change.pk, change.op) or \
        json.loads(stored.data) != change.data


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
    data = known_data(change)  # column names checked against the model: safe to put in SQL
    exists = db.execute_sql(sql(db, f'SELECT 1 FROM "{table}" WHERE id = ?'), (change.pk,)).fetchone() is not None
    if not exists:
        if change.op != "insert":
            raise Park("row not created yet")
        data = {**data, **_defaults(table, data)}
        cols = ["id", *data]
        quoted = ", ".join(f'"{c}"' for c in cols)
        try:
            db.execute_sql(
                sql(db, f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" for _ in cols)})'),
                [change.pk, *_db_values(table, data)],
            )
        except IntegrityError as exc:
            if is_foreign_key_error(exc):
                raise Park("parent row missing") from exc
            raise
        return
    if table in APPEND_ONLY:
        return  # an append-only row never changes after its insert
    current = _current_winners(change)
    winning = {col: value for col, value in data.items() if wins(table, col, change, current.get(col))}
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
            stored = _known(change)
            if stored is not None and _reused(stored, change):
                # Never drop it as a duplicate: keep it parked, visible (sync status, health), for the IT officer.
                log.error("change %s/%s from %s reuses a number %s already used for another change: kept in "
                          "sync_pending; the node must be rebuilt with --recover (docs/operations.md)",
                          change.origin, change.origin_seq, via, change.origin)
                _park(change, via, REUSED)
                result.parked += 1
                continue
            if stored is not None or SyncPending.select().where(
                    (SyncPending.origin == change.origin) & (SyncPending.origin_seq == change.origin_seq)).exists():
                result.duplicates += 1
                continue
            newest = max(newest, change.hlc)
            try:
                _try(change, via)
                result.applied += 1
            except Park as exc:
                _park(change, via, str(exc))
                result.parked += 1
            except IntegrityError as exc:
                log.error("change %s/%s from %s conflicts: %s (parked)", change.origin, change.origin_seq, via, exc)
                _park(change, via, f"conflict: {exc}")
                result.parked += 1
        result.unparked = _retry_parked()
        row = SyncClock.get_by_id(1)
        SyncClock.update(capture=1, hlc=clock.receive(row.hlc, newest)).where(SyncClock.id == 1).execute()
    return result


def reset_by_hand(sender: str, changes: list[Change]) -> bool:
    """Does a batch from `sender` carry one of its own changes under a number that already names
    another of its changes here? Only a sender numbering from the start again can make such a batch
    (a replayed old envelope repeats the very changes it carried)."""
    for change in changes:
        if change.origin == sender:
            stored = _known(change)
            if stored is not None and _reused(stored, change):
                return True
    return False


def _park(change: Change, via: str, reason: str) -> None:
    SyncPending.insert(origin=change.origin, origin_seq=change.origin_seq, via=via,
                       change=json.dumps(change.to_wire(), ensure_ascii=False), reason=reason).execute()


def _retry_parked() -> int:
    """Apply parked changes whose parents have arrived; repeat while progress is made."""
    done_total = 0
    while True:
        done = 0
        for pending in list(SyncPending.select().where(SyncPending.reason != REUSED).order_by(SyncPending.id)):
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


def replay_columns(table: str, columns: list[str]) -> int:
    """A migration has just added `columns` to replicated `table`: give each row the winning value
    of those columns among the changes already logged (received from upgraded peers while this
    node ignored the columns). Capture is off meanwhile, as for any received change. Returns how
    many values were set. Call inside the migration's transaction."""
    columns = [col for col in columns if col in FIELDS[table]]
    winners: dict[tuple[str, str], Change] = {}
    rows = (SyncChange.select(SyncChange.origin, SyncChange.origin_seq, SyncChange.hlc, SyncChange.pk,
                              SyncChange.op, SyncChange.data)
            .where(SyncChange.tbl == table).order_by(SyncChange.id).tuples())
    for origin, seq, hlc, pk, op, data in rows:
        if not any(f'"{col}"' in data for col in columns):
            continue
        change = Change.from_row(origin, seq, hlc, table, pk, op, data)
        for col in columns:
            if col in change.data and wins(table, col, change, winners.get((pk, col))):
                winners[(pk, col)] = change
    if not winners:
        return 0
    db = db_proxy.obj
    SyncClock.update(capture=0).where(SyncClock.id == 1).execute()
    for (pk, col), change in winners.items():
        value = change.data[col]
        db.execute_sql(sql(db, f'UPDATE "{table}" SET "{col}" = ? WHERE id = ?'),
                       [None if value is None else FIELDS[table][col].db_value(value), pk])
    SyncClock.update(capture=1).where(SyncClock.id == 1).execute()
    return len(winners)
