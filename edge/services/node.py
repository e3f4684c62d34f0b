"""Creating a node: database, identity, routing profile and the first admin.

`siaga112 init` calls `init_node`; tests and `make demo` call it too, so a node made by
hand and a node made by the test fixtures are the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from peewee import Database, OperationalError

from edge.db import (
    DatabaseUrlError,
    bind,
    check_url,
    connect_url,
    create_schema,
    node_exists,
    open_database,
    save_url,
)
from edge.dialect import is_postgres
from edge.enums import Role
from edge.profile import load_profile
from edge.services import set_setting, setting
from edge.services.errors import Conflict, NodeNotInitialised, ValidationError
from edge.services.profiles import install_profile
from edge.services.users import create_user, new_password

NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


class NodeRole(StrEnum):
    POSKO = "posko"
    AGENCY = "agency"
    CENTRAL = "central"


class DatabaseUnavailable(NodeNotInitialised):
    """The node's database server cannot be reached or refuses us (PostgreSQL central)."""

    status_code = 503
    code = "database_unavailable"


@dataclass
class InitResult:
    db: Database
    admin_username: str
    admin_password: str


def init_node(data_dir: str | Path, node_id: str, role: str = NodeRole.POSKO.value,
              profile: str = "bengkalis", admin_username: str = "admin",
              database_url: str | None = None, recover: bool = False) -> InitResult:
    """Create the node in `data_dir`; refuses to touch an already initialised node.

    `database_url` (central only): keep the node's data in that database (PostgreSQL)
    instead of SQLite in `data_dir`; the URL is stored in `data_dir/database_url`.
    `recover`: the node existed before and lost its disk with no usable backup; its numbers are
    fenced before its first change and sync takes its records back from central (sync/rejoin.py)."""
    errors = {}
    if not NODE_ID_RE.match(node_id or ""):
        errors["node_id"] = "ID node 2-32 huruf kecil, angka atau strip (mis. posko-bengkalis)"
    if role not in [r.value for r in NodeRole]:
        errors["role"] = "Peran node: posko, agency atau central"
    if database_url:
        if role != NodeRole.CENTRAL.value:
            errors["database_url"] = "Hanya node central yang memakai URL basis data; posko dan stasiun tetap SQLite"
        else:
            try:
                check_url(database_url)
            except DatabaseUrlError:
                errors["database_url"] = "URL basis data tidak dikenal (mis. postgresql://user@host:5432/siaga112)"
    if errors:
        raise ValidationError(errors)
    parsed = load_profile(profile)
    data_dir = Path(data_dir)
    if database_url and node_exists(data_dir):
        raise Conflict("Node sudah diinisialisasi di {path}", path=str(data_dir))
    data_dir.mkdir(parents=True, exist_ok=True)
    db = bind(connect_url(database_url)) if database_url else open_database(data_dir)
    _schema(db)
    if setting("node_id"):
        if database_url:
            raise Conflict("Basis data itu sudah berisi node {node}", node=setting("node_id"))
        raise Conflict("Node sudah diinisialisasi di {path}", path=str(data_dir))
    password = new_password()
    with db.atomic("IMMEDIATE"):
        set_setting("node_id", node_id)
        set_setting("node_role", role)
        if recover:
            from sync.rejoin import fence_recovered

            fence_recovered()
        install_profile(parsed)
        create_user(admin_username, Role.ADMIN.value, password, full_name="Administrator",
                    must_change_password=True)
    if database_url:
        save_url(data_dir, database_url)  # last: a failed init leaves the folder without a node
    return InitResult(db, admin_username, password)


def open_node(data_dir: str | Path) -> Database:
    """Open an initialised node's database (and make sure the schema is current)."""
    if not node_exists(data_dir):
        raise NodeNotInitialised("Tidak ada node di {path}; jalankan 'siaga112 init'", path=str(data_dir))
    db = open_database(data_dir)
    _schema(db)
    return db


def _schema(db: Database) -> None:
    """create_schema, with a database server that is down or refuses us named as such."""
    try:
        create_schema(db)
    except OperationalError as exc:
        if not is_postgres(db):
            raise
        raise DatabaseUnavailable("Basis data node tidak dapat dibuka: {error}", error=str(exc).strip()) from exc
