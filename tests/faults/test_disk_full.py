"""Disk full on a node: a write must fail with an error that says so, and work again once space is freed."""

from __future__ import annotations

import sqlite3

import pytest

from edge.db import open_database
from edge.models import Call, db_proxy
from edge.services.calls import start_call
from edge.services.node import init_node
from edge.services.users import create_user, get_user
from tests.faults.procs import DiskFiller, DrillError


@pytest.fixture
def full_node(tmp_path):
    try:
        disk = DiskFiller(tmp_path / "node", 16)
    except DrillError as exc:
        pytest.skip(str(exc))
    db = None
    try:
        init_node(disk.folder, "posko-a", "posko", "bengkalis").db.close()
        db = open_database(disk.folder)
        with db.connection_context():
            create_user("op-a", "call_taker", "password-1234")
            for i in range(20):  # some WAL pages in use, as on a node that has been working
                start_call(get_user("op-a"), {"caller_number": f"0812770011{i:02d}"})
        # Another process keeps the database open, as the sync daemon does beside the web app
        # (so the -wal and -shm files stay, and a new connection can still open on the full disk).
        other = sqlite3.connect(disk.folder / "siaga112.sqlite3")
        other.execute("SELECT COUNT(*) FROM call").fetchone()
        yield disk, db
        other.close()
    finally:
        db_proxy.initialize(None)
        disk.free()
        disk.unmount()


def _record(db) -> str:
    with db.connection_context():
        return start_call(get_user("op-a"), {"caller_number": "081277009999"}).id


def test_writes_stop_on_a_full_disk_and_resume_when_space_is_freed(full_node):
    disk, db = full_node
    with db.connection_context():
        before = Call.select().count()
    disk.fill()
    failures = 0
    for _ in range(50):  # the WAL may still have room for a few; the disk is full after that
        try:
            _record(db)
        except Exception:  # noqa: BLE001 - whatever it is, the write was refused
            failures += 1
    assert failures > 0
    with db.connection_context():
        stored_while_full = Call.select().count() - before
    assert stored_while_full == 50 - failures  # nothing half-written, nothing acknowledged and lost
    disk.free()
    call_id = _record(db)
    with db.connection_context():
        assert Call.get_by_id(call_id)


def test_the_error_of_a_write_on_a_full_disk_says_the_disk_is_full(full_node):
    disk, db = full_node
    disk.fill()
    messages = []
    for _ in range(50):
        try:
            _record(db)
        except Exception as exc:  # noqa: BLE001
            messages.append(str(exc))
    assert messages
    assert all("full" in m or "disk" in m for m in messages), sorted(set(messages))


def test_the_api_says_a_write_on_a_full_disk_was_not_saved(full_node):
    from edge.app import create_app
    from edge.services.users import issue_token

    disk, db = full_node
    with db.connection_context():
        token = issue_token(get_user("op-a"))
        get_user("op-a")  # the token's first use is written now, not on the full disk
    client = create_app(disk.folder, TESTING=True).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/calls", json={"caller_number": "081277001100"}, headers=headers).status_code == 201
    disk.fill()
    answers = [client.post("/api/v1/calls", json={"caller_number": "081277009999"}, headers=headers)
               for _ in range(30)]
    refused = [a for a in answers if a.status_code != 201]
    assert refused, "the disk never filled"
    assert {a.status_code for a in refused} == {503}
    assert all(a.get_json()["error"] == "storage_unavailable" and "NOT saved" in a.get_json()["message"]
               for a in refused)
