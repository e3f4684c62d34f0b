"""Service functions: the one place where the 112 procedure's rules live.

The web UI, the JSON API, the CLI and (later) sync and the bridge all call these;
a view only parses input, calls a service and renders the result.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from edge.dialect import WRITE_LOCKING
from edge.models import NodeSetting, db_proxy
from edge.services.errors import NodeNotInitialised


def write_tx() -> AbstractContextManager:
    """A write transaction; it takes the write lock at BEGIN (IMMEDIATE on SQLite, an advisory
    lock on PostgreSQL), so read-then-write sequences (counters, hash chains) cannot race
    another process."""
    db = db_proxy.obj
    if isinstance(db, WRITE_LOCKING) and not db.in_transaction():
        return db.atomic("IMMEDIATE")
    return db_proxy.atomic()


def setting(key: str, default: str | None = None) -> str | None:
    row = NodeSetting.get_or_none(NodeSetting.key == key)
    return row.value if row else default


def set_setting(key: str, value: str) -> None:
    NodeSetting.insert(key=key, value=value).on_conflict(
        conflict_target=[NodeSetting.key], preserve=[NodeSetting.value]).execute()


def delete_setting(key: str) -> None:
    NodeSetting.delete().where(NodeSetting.key == key).execute()


def node_id() -> str:
    value = setting("node_id")
    if not value:
        raise NodeNotInitialised("Node belum diinisialisasi")
    return value
