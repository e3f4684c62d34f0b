"""Change capture and apply between real SQLite databases (no network): idempotent,
order-tolerant, convergent."""

from __future__ import annotations

import random

import pytest

from edge.models import Dispatch, Event, Incident, User
from edge.services.calls import start_call
from edge.services.dispatches import update_status
from edge.services.incidents import create_incident, dispatch_agencies, update_incident
from edge.services.users import create_user, get_user
from sync.apply import apply_batch
from sync.models import SyncChange, SyncPending
from sync.outbox import CASE_TABLES, content_hash, read_changes
from tests.sync.nodes import NodeDB


@pytest.fixture
def nodes(tmp_path):
    a = NodeDB(tmp_path / "a", "posko-a")
    b = NodeDB(tmp_path / "b", "central", "central")
    with a.use():
        create_user("op-a", "call_taker", "password-1234")
        create_user("dk", "agency", "password-1234", agency_code="DAMKAR")
    return a, b


def changes_of(node, after=0):
    with node.use():
        return [c for _id, c, _via in read_changes(after, 100000)]


def record_case(node, desa="Senggoro"):
    with node.use():
        op = get_user("op-a")
        call = start_call(op, {"caller_number": "0812"})
        result = create_incident(op, {"incident_type": 3, "desa": desa, "situation": "api"}, call_id=call.id)
        dispatch_agencies(op, result.incident.id, ["DAMKAR", "POLRES"])
        return result.incident.id


def test_every_write_is_captured_with_its_transaction(nodes):
    a, _ = nodes
    incident_id = record_case(a)
    with a.use():
        logged = {(c.tbl, c.pk) for _i, c, _v in read_changes(0, 100000)}
        assert ("incident", incident_id) in logged
        for d in Dispatch.select():
            assert ("dispatch", d.id) in logged
        for e in Event.select():
            assert ("event", e.id) in logged
        seqs = [c.origin_seq for _i, c, _v in read_changes(0, 100000) if c.origin == "posko-a"]
        assert seqs == list(range(1, len(seqs) + 1))


def test_apply_reproduces_rows_and_is_idempotent(nodes):
    a, b = nodes
    incident_id = record_case(a)
    chs = changes_of(a)
    with b.use():
        first = apply_batch(chs, via="posko-a")
        assert first.applied > 0 and first.parked == 0
        again = apply_batch(chs, via="posko-a")
        assert again.applied == 0 and again.duplicates == len(chs)
        inc = Incident.get_by_id(incident_id)
        assert inc.desa == "Senggoro" and inc.case_no.startswith("posko-a-")
        assert {d.agency.code for d in inc.dispatches} == {"DAMKAR", "POLRES"}
        # Applied changes are logged as received, not captured again as central's own.
        assert SyncChange.select().where(SyncChange.origin == "central", SyncChange.tbl == "incident").count() == 0
        assert SyncChange.select().where(SyncChange.via == "posko-a").count() == len(chs)


def test_out_of_order_changes_are_parked_then_applied(nodes):
    a, b = nodes
    record_case(a)
    chs = changes_of(a)
    rng = random.Random(7)
    shuffled = list(chs)
    rng.shuffle(shuffled)
    with b.use():
        for i in range(0, len(shuffled), 3):  # small batches in a random order
            apply_batch(shuffled[i:i + 3], via="posko-a")
        assert SyncPending.select().count() == 0
        hash_b = content_hash(CASE_TABLES)
    with a.use():
        assert content_hash(CASE_TABLES) == hash_b
        assert Incident.select().count() == 1
    fresh = NodeDB(a.data_dir.parent / "c", "central-2", "central")
    with fresh.use():
        apply_batch(chs, via="posko-a")
        assert content_hash(CASE_TABLES) == hash_b


def test_concurrent_edits_converge_on_both_nodes(nodes):
    a, b = nodes
    incident_id = record_case(a)
    base = changes_of(a)
    with b.use():
        apply_batch(base, via="posko-a")
        create_user("sup-c", "supervisor", "password-1234")
        update_incident(get_user("sup-c"), incident_id, {"address": "Jl. Central", "victims_count": 4})
    with a.use():
        update_incident(get_user("op-a"), incident_id, {"address": "Jl. Posko", "landmark": "Masjid"})
        damkar = Dispatch.select().join_from(Dispatch, Dispatch.agency.rel_model).where(
            Dispatch.agency.rel_model.code == "DAMKAR").get()
        update_status(get_user("dk"), damkar.id, {"status": "finished", "report": "padam"})
    last_a = max(c.origin_seq for c in base if c.origin == "posko-a")
    new_a = [c for c in changes_of(a) if c.origin == "posko-a" and c.origin_seq > last_a]
    new_b = [c for c in changes_of(b) if c.origin == "central"]
    with a.use():
        apply_batch(new_b, via="central")
        hash_a, row_a = content_hash(), Incident.get_by_id(incident_id)
    with b.use():
        apply_batch(new_a, via="posko-a")
        hash_b, row_b = content_hash(), Incident.get_by_id(incident_id)
    assert hash_a == hash_b
    assert row_a.landmark == "Masjid" and row_a.victims_count == 4  # both sides' fields kept
    assert row_a.address == row_b.address
    with b.use():
        assert Dispatch.get_by_id(damkar.id).status == "finished"


def test_unknown_table_or_column_is_rejected_not_applied(nodes):
    from sync.merge import Change

    _, b = nodes
    with b.use():
        result = apply_batch([Change("posko-x", 1, 1, "secrets", "k", "insert", {"a": 1}),
                              Change("posko-x", 2, 2, "user", "u1", "insert", {"is_root": 1})], via="posko-x")
        assert result.rejected == 2 and result.applied == 0
        assert User.select().where(User.id == "u1").count() == 0
