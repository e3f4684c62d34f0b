"""The append-only, hash-chained audit trail."""

from __future__ import annotations

import sqlite3

import peewee
import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.db import database_path
from edge.models import Event
from edge.services.audit import verify


def _make_case(login):
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "1", "desa": "Sungai Alam", "situation": "Sesak napas"})
    return op


def test_every_change_is_an_event_with_user_and_a_valid_chain(login):
    _make_case(login)
    events = list(Event.select().order_by(Event.seq))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.actor == "operator" for e in events)
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    checked, problems = verify()
    assert checked == len(events) and problems == []


def test_update_and_delete_are_refused_by_the_database(login):
    _make_case(login)
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        Event.update(actor="mallory").execute()
    with pytest.raises(peewee.IntegrityError, match="append-only|never deleted"):
        Event.delete().execute()


def test_edited_row_is_detected_by_cli(node, login):
    _make_case(login)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--data-dir", str(node.data_dir)])
    assert ok.exit_code == 0 and "0 problems" in ok.output
    # Someone bypasses the app: drops the guard and edits a row with plain sqlite3.
    con = sqlite3.connect(database_path(node.data_dir))
    con.execute("DROP TRIGGER event_no_update")
    con.execute("UPDATE event SET detail = '{\"text\": \"diubah\"}' WHERE seq = 2")
    con.commit()
    con.close()
    bad = runner.invoke(main, ["audit", "verify", "--data-dir", str(node.data_dir)])
    assert bad.exit_code == 1
    assert "seq=2" in bad.output and "content does not match" in bad.output


def test_deleted_row_breaks_the_chain(node, login):
    _make_case(login)
    con = sqlite3.connect(database_path(node.data_dir))
    con.execute("DROP TRIGGER event_no_delete")
    con.execute("DROP TRIGGER event_sync_no_delete")
    con.execute("DELETE FROM event WHERE seq = 1")
    con.commit()
    con.close()
    _checked, problems = verify()
    assert any(p.seq == 2 and "gap" in p.reason for p in problems)
