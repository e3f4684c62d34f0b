"""Central fixtures: a real central node (role "central") in a temp dir, its app and users.

The tests of central's areas override `node` so that the shared `app` and `login` fixtures
of tests/conftest.py work on a central node instead of a posko.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, Node, make_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """An initialised central node with one user per role (password PASSWORD)."""
    yield from make_node(tmp_path / "central", "central", "central")


__all__ = ["PASSWORD"]
