"""The synthetic regency generator: deterministic, Bengkalis-like, and shaped like the rows
the services write (so the reports' figures on it mean something)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from peewee import fn

from central.synthetic import KECAMATAN, POSKOS, generate
from edge.db import database_path, open_database
from edge.ids import stable_id
from edge.models import Agency, Call, Dispatch, Event, Incident, db_proxy
from edge.services.audit import verify
from edge.services.node import init_node
from edge.services.profiles import active_profile
from sync.models import SyncChange


def _build(path: Path, seed: int = 7, calls: int = 3000, events: bool = False):
    result = init_node(path, "central", "central", "bengkalis")
    summary = generate(seed=seed, start=date(2025, 3, 1), days=30, calls=calls, events=events)
    return result.db, summary


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A month of 3,000 calls with each posko's timeline, built once for this module."""
    path = tmp_path_factory.mktemp("synthetic") / "central"
    db, summary = _build(path, events=True)
    db.close()
    db_proxy.initialize(None)
    return path, summary


@pytest.fixture
def small(small_data) -> Iterator[tuple]:
    db = open_database(small_data[0])
    yield db, small_data[1]
    db.close()
    db_proxy.initialize(None)


def _rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(database_path(path))
    try:
        return [conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("call", "incident", "dispatch")]
    finally:
        conn.close()


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        db, _summary = _build(tmp_path / name, seed=seed, calls=500)
        db.close()
        db_proxy.initialize(None)
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    assert _rows(tmp_path / "a") != _rows(tmp_path / "c")


def test_volumes_and_shares(small):
    _db, summary = small
    assert summary.calls == Call.select().count() == 3000
    assert summary.incidents == Incident.select().count() > 250
    non_actionable = Call.select().where(Call.call_type.in_(["information", "ghost", "prank"])).count()
    assert 0.81 <= non_actionable / 3000 <= 0.89
    assert {c.node for c in Call.select(Call.node).distinct()} == {p.node for p in POSKOS}
    kecamatan = {i.kecamatan for i in Incident.select(Incident.kecamatan).distinct()}
    assert kecamatan <= set(KECAMATAN) and len(kecamatan) >= 8
    assert Incident.select().where(Incident.status != "closed").count() == summary.open_incidents > 0
    # The same prank numbers come back: a few numbers make many of the pranks.
    top = (Call.select(Call.caller_number).where(Call.call_type == "prank", Call.caller_number != "")
           .group_by(Call.caller_number).order_by(fn.COUNT(Call.id).desc()).limit(1).scalar())
    assert Call.select().where(Call.caller_number == top).count() >= 10


def test_rows_have_the_shape_the_services_write(small):
    profile = active_profile()
    codes = {a.id: a.code for a in Agency.select()}
    for inc in Incident.select().limit(200):
        assert inc.case_no.startswith(f"{inc.node}-2025-") and inc.profile_id == "bengkalis"
        assert inc.priority == profile.incident_type(inc.incident_type).priority
        first = inc.calls.order_by(Call.rung_at).first()
        assert first.call_type == "normal" and first.rung_at <= first.answered_at <= inc.recorded_at
        dispatched = list(inc.dispatches)
        assert {codes[d.agency_id] for d in dispatched} <= set(profile.suggested_agencies(inc.incident_type)) | {
            "RSUD_MANDAU"}
        for d in dispatched:
            assert d.id == stable_id("dispatch", f"{inc.id}/{codes[d.agency_id]}")
            stamps = [d.sent_at, d.received_at, d.acknowledged_at, d.prepared_at, d.en_route_at, d.on_scene_at,
                      d.finished_at]
            present = [s for s in stamps if s is not None]
            assert present == sorted(present)  # statuses only move forward
            assert getattr(d, {"sent": "sent_at", "received": "received_at", "acknowledged": "acknowledged_at",
                               "prepared": "prepared_at", "en_route": "en_route_at", "on_scene": "on_scene_at",
                               "finished": "finished_at"}[d.status]) is not None
        if inc.status == "closed":
            assert inc.closed_at >= inc.recorded_at and inc.final_report
        elif dispatched and all(d.status == "finished" for d in dispatched):
            assert inc.status == "finished"
    # Loaded as sync would apply them: no change of central's own was captured.
    assert SyncChange.select().where(SyncChange.tbl.in_(["call", "incident", "dispatch"])).count() == 0


def test_each_poskos_timeline_is_a_valid_hash_chain(small):
    _db, summary = small
    assert summary.events == Event.select().count() > summary.calls
    checked, problems = verify()
    assert checked >= summary.events and problems == []
    kinds = {e.kind for e in Event.select(Event.kind).distinct()}
    assert {"call.answered", "call.classified", "incident.created", "call.attached", "dispatch.sent",
            "dispatch.acknowledged", "dispatch.on_scene", "dispatch.finished", "incident.closed"} <= kinds
    assert Dispatch.select().count() == Event.select().where(Event.kind == "dispatch.sent").count()
