"""Creating a node: database, identity, routing profile and the first admin.

`siaga112 init` calls `init_node`; tests and `make demo` call it too, so a node made by
hand and a node made by the test fixtures are the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from peewee import SqliteDatabase

from edge.db import create_schema, database_path, open_database
from edge.enums import Role
from edge.profile import load_profile
from edge.services import set_setting, setting
from edge.services.errors import Conflict, ValidationError
from edge.services.profiles import install_profile
from edge.services.users import create_user, new_password

NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


class NodeRole(StrEnum):
    POSKO = "posko"
    AGENCY = "agency"
    CENTRAL = "central"


@dataclass
class InitResult:
    db: SqliteDatabase
    admin_username: str
    admin_password: str


def init_node(data_dir: str | Path, node_id: str, role: str = NodeRole.POSKO.value,
              profile: str = "bengkalis", admin_username: str = "admin") -> InitResult:
    """Create the node in `data_dir`; refuses to touch an already initialised node."""
    errors = {}
    if not NODE_ID_RE.match(node_id or ""):
        errors["node_id"] = "ID node 2-32 huruf kecil, angka atau strip (mis. posko-bengkalis)"
    if role not in [r.value for r in NodeRole]:
        errors["role"] = "Peran node: posko, agency atau central"
    if errors:
        raise ValidationError(errors)
    parsed = load_profile(profile)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    existed = database_path(data_dir).exists()
    db = open_database(data_dir)
    create_schema(db)
    if existed and setting("node_id"):
        raise Conflict("Node sudah diinisialisasi di {path}", path=str(data_dir))
    password = new_password()
    with db.atomic("IMMEDIATE"):
        set_setting("node_id", node_id)
        set_setting("node_role", role)
        install_profile(parsed)
        create_user(admin_username, Role.ADMIN.value, password, full_name="Administrator",
                    must_change_password=True)
    return InitResult(db, admin_username, password)


def open_node(data_dir: str | Path) -> SqliteDatabase:
    """Open an initialised node's database (and make sure the schema is current)."""
    if not database_path(data_dir).exists():
        from edge.services.errors import NodeNotInitialised

        raise NodeNotInitialised("Tidak ada node di {path}; jalankan 'siaga112 init'", path=str(data_dir))
    db = open_database(data_dir)
    create_schema(db)
    return db
