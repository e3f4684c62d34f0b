"""Fixtures that build real nodes: a real SQLite file in a temp dir, the real app, real users."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge.app import create_app
from edge.models import db_proxy
from edge.services.node import init_node
from edge.services.users import create_user

PASSWORD = "password-1234"
USERS = (
    ("operator", "call_taker", None),
    ("supervisor", "supervisor", None),
    ("damkar", "agency", "DAMKAR"),
    ("polres", "agency", "POLRES"),
    ("pusat", "central", None),
)


@dataclass
class Node:
    data_dir: Path
    admin_password: str


def make_node(data_dir: Path, node_id: str, role: str) -> Iterator[Node]:
    """Initialise a node in `data_dir` with one user per role (password PASSWORD); a fixture body."""
    result = init_node(data_dir, node_id, role, "bengkalis")
    for username, user_role, agency in USERS:
        create_user(username, user_role, PASSWORD, username.title(), agency)
    yield Node(data_dir, result.admin_password)
    result.db.close()
    db_proxy.initialize(None)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """An initialised posko in a temp dir with one user per role (password PASSWORD)."""
    yield from make_node(tmp_path / "posko", "posko-test", "posko")


@pytest.fixture
def app(node: Node) -> Flask:
    return create_app(node.data_dir, TESTING=True)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Browserless:
    """A logged-in test client that fetches a CSRF token from a page before each POST,
    as a browser would (CSRF protection stays on)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kw):
        response = self.client.get(url, **kw)
        if b"csrf" in response.data:
            try:
                self.token = csrf_from(response.get_data(as_text=True))
            except AssertionError:
                pass
        return response

    def post(self, url: str, data: dict | None = None, **kw):
        if not self.token:
            self.get("/login")
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.token)
        return self.client.post(url, data=payload, **kw)


@pytest.fixture
def login(app: Flask):
    """login("operator") -> a Browserless client logged in as that user."""

    def _login(username: str, password: str = PASSWORD) -> Browserless:
        b = Browserless(app.test_client())
        b.get("/login")
        response = b.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        b.get("/archive")
        return b

    return _login
