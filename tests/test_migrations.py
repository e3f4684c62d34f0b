"""Schema migrations (edge/migrations): fresh databases stamped, upgrades from the previous
release's own database, the write lock between two starting processes, change capture of a
new column, the mixed-version rules of sync/apply.py, and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.callsign import normalise_callsign
from edge.cli import main as cli
from edge.db import database_path
from edge.migrations import BASELINE, VERSION_TABLE, current_version, latest_version, migrate, steps
from edge.models import Agency, Dispatch, Incident, db_proxy
from edge.services.node import init_node, open_node
from sync.apply import apply_batch
from sync.merge import Change
from sync.models import SyncChange
from tests.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_prev_release_node", DATA / "make_prev_release_node.py")
prev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prev)


def _close() -> None:
    if db_proxy.obj is not None:
        db_proxy.obj.close()
    db_proxy.initialize(None)


@pytest.fixture
def closing() -> Iterator[None]:
    yield
    _close()


def _history_or_unavailable() -> None:
    """The previous release's commit must be in the checkout's history: fail under CI, skip elsewhere."""
    problem = prev.history_problem()
    if problem:
        message = (f"git history with commit {prev.PREV_RELEASE} (the previous release) is not available: "
                   f"check out with full history (fetch-depth: 0) to build the previous release's database ({problem})")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _steps_ran(db) -> list[str]:
    return [r[0] for r in db.execute_sql(f"SELECT name FROM {VERSION_TABLE} ORDER BY version")]


def _captured(agency_id: str) -> list[dict]:
    rows = SyncChange.select().where((SyncChange.tbl == "agency") & (SyncChange.pk == agency_id) &
                                     (SyncChange.via == "")).order_by(SyncChange.id)
    return [json.loads(r.data) for r in rows]


# --- steps and fresh databases ----------------------------------------------------------------

def test_steps_are_numbered_without_gaps_and_documented():
    found = steps()
    assert [s.version for s in found] == list(range(1, latest_version() + 1)) and latest_version() >= 1
    for step in found:
        assert (step.module.__doc__ or "").strip(), f"{step.name} has no docstring"
        assert callable(step.module.up)


def test_fresh_database_is_created_at_the_latest_version_without_running_old_steps(tmp_path, closing):
    db = init_node(tmp_path / "n", "posko-baru").db
    assert current_version(db) == latest_version()
    assert _steps_ran(db) == [BASELINE]
    assert "radio_callsign" in [c.name for c in db.get_columns("agency")]
    assert migrate(db) == []  # a second start changes nothing


# --- upgrade from the previous release --------------------------------------------------------

def _check_upgraded(data_dir: Path) -> None:
    """Open the previous release's node with this release: migrated, data intact, capture works."""
    db = open_node(data_dir)
    try:
        assert current_version(db) == latest_version()
        assert _steps_ran(db) == [s.name for s in steps()]
        assert Incident.select().count() == prev.CASES and Dispatch.select().count() == 2 * prev.CASES
        assert Dispatch.select().where(Dispatch.status == "received").count() == prev.CASES
        damkar, bpbd = Agency.get(Agency.code == "DAMKAR"), Agency.get(Agency.code == "BPBD")
        # the interim callsign copied (normalised), station_node left as it was
        assert (damkar.radio_callsign, damkar.station_node) == ("DAMKR1", "damkr1")
        assert (bpbd.radio_callsign, bpbd.station_node) == ("", "bpbd-station-kota")  # not a callsign
        assert Agency.select().where((Agency.radio_callsign == "") & (Agency.code != "DAMKAR")).count() \
            == Agency.select().count() - 1
        # the copy was captured, so nodes created at this version receive it too
        assert {"radio_callsign": "DAMKR1"} in _captured(damkar.id)
        # a change of the new column on the upgraded node is captured for sync
        Agency.update(radio_callsign="YB5DMK").where(Agency.id == damkar.id).execute()
        assert _captured(damkar.id)[-1] == {"radio_callsign": "YB5DMK"}
        polres = Agency.get(Agency.code == "POLRES")
        polres.radio_callsign, polres.phone = "POLRS1", "0811"
        polres.save()
        assert {"radio_callsign": "POLRS1", "phone": "0811"}.items() <= _captured(polres.id)[-1].items()
        new = Agency.create(node=prev.NODE_ID, code="SAR", name="Basarnas", radio_callsign="SAR1")
        assert _captured(new.id)[-1]["radio_callsign"] == "SAR1"
    finally:
        _close()
    result = CliRunner().invoke(cli, ["audit", "verify", "--data-dir", str(data_dir)])
    _close()
    assert result.exit_code == 0, result.output


def test_upgrade_from_the_previous_release_fixture(tmp_path):
    data_dir = prev.unpack(prev.FIXTURE, tmp_path / "node")
    assert (data_dir / "PREV_RELEASE").read_text().strip() == prev.PREV_RELEASE
    with sqlite3.connect(database_path(data_dir)) as con:  # really the old schema
        assert "radio_callsign" not in [r[1] for r in con.execute("PRAGMA table_info(agency)")]
        assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (VERSION_TABLE,)).fetchone()
    _check_upgraded(data_dir)


def test_upgrade_from_the_previous_release_built_from_git_history(tmp_path):
    _history_or_unavailable()
    data_dir = prev.build(tmp_path / "node")
    _check_upgraded(data_dir)


def test_values_received_before_the_upgrade_are_replayed_into_the_new_column(tmp_path, closing):
    """A change from an upgraded peer, logged whole while this node ignored its new column,
    sets the column when the migration adds it (not as a new local change)."""
    data_dir = prev.unpack(prev.FIXTURE, tmp_path / "node")
    with sqlite3.connect(database_path(data_dir)) as con:
        polres = con.execute("SELECT id FROM agency WHERE code = 'POLRES'").fetchone()[0]
        con.execute("UPDATE sync_clock SET capture = 0")
        con.execute("INSERT INTO sync_change (origin, origin_seq, hlc, tbl, pk, op, data, via, applied_at) "
                    "VALUES ('central', 7, 1, 'agency', ?, 'update', ?, 'central', '2026-01-01 00:00:00')",
                    (polres, json.dumps({"radio_callsign": "PLRS1", "phone": "0812"})))
        con.execute("UPDATE sync_clock SET capture = 1")
    open_node(data_dir)
    assert Agency.get_by_id(polres).radio_callsign == "PLRS1"
    assert not [d for d in _captured(polres) if "radio_callsign" in d]  # replayed, not captured as ours


def _start_node(data_dir: str, barrier, out) -> None:
    barrier.wait()
    db = open_node(data_dir)
    out.put([r[0] for r in db.execute_sql(f"SELECT name FROM {VERSION_TABLE}")])
    db.close()


def test_two_processes_starting_at_once_migrate_once(tmp_path):
    data_dir = prev.unpack(prev.FIXTURE, tmp_path / "node")
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_start_node, args=(str(data_dir), barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    seen = [out.get(timeout=5), out.get(timeout=5)]
    assert seen[0] == seen[1] == [s.name for s in steps()]
    with sqlite3.connect(database_path(data_dir)) as con:
        damkar = con.execute("SELECT id FROM agency WHERE code = 'DAMKAR'").fetchone()[0]
        copies = con.execute("SELECT COUNT(*) FROM sync_change WHERE pk = ? AND data = ?",
                             (damkar, '{"radio_callsign":"DAMKR1"}')).fetchone()[0]
    assert copies == 1  # the step (and its captured copy) ran once


def test_a_step_another_process_ran_meanwhile_is_not_run_again(tmp_path, closing):
    """The race above, made deterministic: a process that read the old version before taking the
    lock re-reads it under the lock and leaves the step alone."""
    from edge.db import open_database
    from edge.migrations import _run_step

    data_dir = prev.unpack(prev.FIXTURE, tmp_path / "node")
    db = open_database(data_dir)  # not open_node: nothing migrated yet
    first = steps()[0]
    assert current_version(db) == 0
    assert _run_step(db, first) is True
    assert _run_step(db, first) is False  # what the slower of two starting processes does
    assert _steps_ran(db)[:1] == [first.name] and len(_steps_ran(db)) == 1


# --- mixed versions: sync/apply.py ------------------------------------------------------------

def test_unknown_column_from_a_newer_release_is_ignored_and_the_rest_applied(node, caplog):
    damkar = Agency.get(Agency.code == "DAMKAR")
    late = 2**62  # newer than every local change
    change = Change("posko-baru", 1, late, "agency", damkar.id, "update", {"phone": "0813", "radio_frequency": "146.5"})
    result = apply_batch([change], via="posko-baru")
    assert (result.applied, result.rejected, result.parked) == (1, 0, 0)
    assert Agency.get_by_id(damkar.id).phone == "0813"
    logged = SyncChange.get((SyncChange.origin == "posko-baru") & (SyncChange.origin_seq == 1))
    assert json.loads(logged.data) == {"phone": "0813", "radio_frequency": "146.5"}  # kept whole, relayed whole
    assert "radio_frequency" in caplog.text and "ignored" in caplog.text
    only_new = Change("posko-baru", 2, late + 1, "agency", damkar.id, "update", {"radio_frequency": "147.0"})
    assert apply_batch([only_new], via="posko-baru").applied == 1


def test_insert_from_an_older_release_takes_the_new_columns_default(node):
    """A node of the previous release sends agency rows without radio_callsign."""
    row = {"node": "posko-lama", "created_at": "2026-01-01 00:00:00", "updated_at": "2026-01-01 00:00:00",
           "code": "RELAWAN", "name": "Relawan", "name_en": "Volunteers", "kind": "health", "phone": "",
           "station_node": "", "active": 1}
    result = apply_batch([Change("posko-lama", 1, 1, "agency", "a-pmi", "insert", row)], via="posko-lama")
    assert result.applied == 1
    assert Agency.get_by_id("a-pmi").radio_callsign == ""


def test_callsign_rule_matches_the_bridge():
    from firmware_bridge.radio import ax25

    for value in ("DAMKR1", "damkr1", "yb5xyz-7", "YB5XYZ-0", "YB5XYZ-15", "YB5XYZ-16", "damkar-1", "DAMKAR12",
                  "bpbd-station", "", "  n0call ", "A-1", "AB_1"):
        try:
            expected = ax25.normalise_call(value)
        except ax25.Ax25Error:
            expected = None
        assert normalise_callsign(value) == expected, value


# --- PostgreSQL -------------------------------------------------------------------------------

def test_fresh_postgres_central_is_at_the_latest_version(tmp_path, postgres_url, closing):  # noqa: F811
    db = init_node(tmp_path / "central", "central", role="central", database_url=postgres_url).db
    assert current_version(db) == latest_version() and _steps_ran(db) == [BASELINE]
    damkar = Agency.get(Agency.code == "DAMKAR")
    Agency.update(radio_callsign="DAMKR1").where(Agency.id == damkar.id).execute()
    assert _captured(damkar.id)[-1] == {"radio_callsign": "DAMKR1"}


def test_upgrade_of_a_postgres_central_of_the_previous_release(tmp_path, postgres_url):  # noqa: F811
    _history_or_unavailable()
    data_dir = prev.build(tmp_path / "central", database_url=postgres_url)
    _check_upgraded(data_dir)


def test_capture_rebuilt_mid_upgrade_leaves_out_columns_a_later_step_adds(tmp_path, closing):
    """Rebuilding capture while a table lacks a column of the latest model (a later step adds it)
    must not make every write of that table fail."""
    from edge.db import open_database
    from sync import outbox

    data_dir = prev.unpack(prev.FIXTURE, tmp_path / "node")
    db = open_database(data_dir)  # previous release's schema: agency has no radio_callsign
    outbox.reinstall(db, ["agency"])
    damkar = db.execute_sql("SELECT id FROM agency WHERE code = 'DAMKAR'").fetchone()[0]
    db.execute_sql("UPDATE agency SET phone = '0815' WHERE id = ?", (damkar,))
    assert _captured(damkar)[-1] == {"phone": "0815"}


def test_capture_rebuilt_on_postgres_leaves_out_missing_columns(tmp_path, postgres_url, closing):  # noqa: F811
    from sync import outbox

    db = init_node(tmp_path / "central", "central", role="central", database_url=postgres_url).db
    damkar = Agency.get(Agency.code == "DAMKAR").id
    db.execute_sql("ALTER TABLE agency DROP COLUMN radio_callsign")  # as the table was before step 1
    outbox.reinstall(db, ["agency"])
    db.execute_sql("UPDATE agency SET phone = '0815' WHERE id = %s", (damkar,))
    assert _captured(damkar)[-1] == {"phone": "0815"}


def test_migrations_do_not_import_the_bridge():
    """Every node migrates, including central, which has no bridge."""
    for path in Path(__file__).parents[1].joinpath("edge", "migrations").glob("*.py"):
        assert "firmware_bridge" not in path.read_text(encoding="utf-8"), path
