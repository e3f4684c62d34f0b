"""Central fixtures: a real central node (role "central") in a temp dir, its app and users.

The tests of central's areas override `node` so that the shared `app` and `login` fixtures
of tests/conftest.py work on a central node instead of a posko.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.models import db_proxy
from edge.services.node import init_node
from edge.services.users import create_user
from tests.conftest import PASSWORD, USERS, Node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """An initialised central node with one user per role (password PASSWORD)."""
    data_dir = tmp_path / "central"
    result = init_node(data_dir, "central", "central", "bengkalis")
    for username, role, agency in USERS:
        create_user(username, role, PASSWORD, username.title(), agency)
    yield Node(data_dir, result.admin_password)
    result.db.close()
    db_proxy.initialize(None)


__all__ = ["PASSWORD"]
