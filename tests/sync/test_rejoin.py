"""A posko restored from a backup rejoins central: it works at once, its new work is not taken
for duplicates, and it gets back what central holds of the work the backup missed (sync/rejoin.py)."""

from __future__ import annotations

import json

import pytest

from edge.models import Counter, Dispatch, Event, Incident
from edge.services import audit
from edge.services.backup import create_backup, restore_backup
from edge.services.dispatches import update_status
from edge.services.doctor import Status, check_rejoin
from edge.services.health import Level, check_sync
from edge.services.users import get_user
from sync import codec, rejoin
from sync.models import SyncChange, SyncPeer
from tests.sync.test_replication import cluster, count, record_fire  # noqa: F401 - the fixture


def own_events(node, name: str) -> list[tuple[int, str]]:
    with node.use():
        return list(Event.select(Event.seq, Event.hash).where(Event.node == name).order_by(Event.seq).tuples())


def backup_between_two_cases(regency, backed_up, tmp_path):
    """Start the regency; a case at posko-a reaches Damkar; `backed_up` is backed up (its daemon
    stopped meanwhile); then a second case at posko-a and Damkar's answer to the first, which the
    backup does not hold. Returns (first case, second case, backup)."""
    posko, damkar = regency["posko-a"], regency["damkar-1"]
    regency.start()
    first = record_fire(posko, "Senggoro")
    regency.wait_for(lambda: count(damkar, Dispatch) == 1, what="first dispatch at Damkar")
    backed_up.stop()
    backup = create_backup(backed_up.data_dir, tmp_path / "backups")
    backed_up.start()
    second = record_fire(posko, "Pematang")
    with damkar.use():
        update_status(get_user("dk-1"), Dispatch.get(Dispatch.incident == first).id, {"status": "acknowledged"})
    return first, second, backup


def test_restored_posko_rejoins_and_gets_its_lost_work_back(cluster, tmp_path):  # noqa: F811
    posko, central, damkar = cluster["posko-a"], cluster["central"], cluster["damkar-1"]
    # After the backup: a second case, and Damkar's answer to the first. Both reach central.
    _first, lost, backup = backup_between_two_cases(cluster, posko, tmp_path)
    cluster.wait_for(lambda: count(central, Incident, Incident.id == lost) == 1, what="second case at central")
    cluster.wait_for(lambda: count(posko, Dispatch, Dispatch.status == "acknowledged") == 1, what="answer at posko")
    with central.use():
        lost_case_no = Incident.get_by_id(lost).case_no
    events_before = own_events(central, "posko-a")

    # The disk dies; the posko is restored from the backup, which has neither.
    posko.stop()
    with posko.use():
        used_ids = SyncChange.select(SyncChange.id).order_by(SyncChange.id.desc()).scalar()
    result = restore_backup(backup.path, posko.data_dir, force=True)
    assert result.fence is not None and result.fence.own_above > 0
    assert count(posko, Incident, Incident.id == lost) == 0
    with posko.use():
        assert rejoin.pending() is not None
        assert check_sync().level == Level.DEGRADED and "restored from a backup" in check_sync().detail
        assert check_rejoin().status == Status.WARN and "peers answered: none yet" in check_rejoin().detail
        assert Event.get(Event.kind == audit.RESTORED).seq == result.fence.event_seq

    # It takes calls at once, before it reaches central: new numbers, not the lost ones. More
    # than one batch of them, so central's view of the node's change ids must start over too.
    more = [record_fire(posko, f"Desa {i}") for i in range(45)]
    fresh = record_fire(posko, "Kelapapati")
    with posko.use():
        fresh_case = Incident.get_by_id(fresh)
        assert fresh_case.case_no != lost_case_no
        assert SyncChange.select().where(SyncChange.pk == fresh).get().origin_seq >= result.fence.own_below
        # central's checkpoints count this log's ids: none of the new ones may fall below what it saw
        assert SyncChange.select(SyncChange.id).where(SyncChange.pk.in_(more)).order_by(SyncChange.id).scalar() \
            > used_ids
        assert Event.select().where(Event.incident == fresh).order_by(Event.seq).first().seq > result.fence.event_seq

    posko.start()
    cluster.wait_for(lambda: count(central, Incident, Incident.id == fresh) == 1, what="the new case at central")
    cluster.wait_for(lambda: count(central, Incident, Incident.id.in_(more)) == len(more), what="all new cases")
    cluster.wait_for(lambda: count(posko, Incident, Incident.id == lost) == 1, what="the lost case back at posko")
    cluster.wait_for(lambda: count(posko, Dispatch, Dispatch.status == "acknowledged") == 1,
                     what="Damkar's answer back at posko")
    cluster.wait_for(lambda: count(damkar, Dispatch, Dispatch.incident == fresh) == 1, what="new dispatch at Damkar")
    cluster.wait_for(lambda: own_events(posko, "posko-a") == own_events(central, "posko-a"),
                     what="posko-a's chain equal on both")
    def given_back() -> bool:
        with central.use():
            return rejoin.returning("posko-a") is None  # every returned change acknowledged

    cluster.wait_for(given_back, what="central done returning posko-a's changes")
    with posko.use():
        assert rejoin.pending() is None
        assert check_sync().level == Level.OK and check_rejoin() is None
        assert Incident.get_by_id(lost).case_no == lost_case_no
        assert Dispatch.select().where(Dispatch.incident == lost).count() == 2
        checked, problems = audit.verify()
        assert problems == [] and checked > len(events_before)
    with central.use():
        checked, problems = audit.verify()
        assert problems == [], problems
        rejoined = Event.get(Event.kind == "node.rejoined")
        assert json.loads(rejoined.detail)["node"] == "posko-a" and json.loads(rejoined.detail)["returned"] > 0
        assert Incident.select().where(Incident.node == "posko-a").count() == 3 + len(more)
    assert set(events_before) <= set(own_events(posko, "posko-a"))  # nothing of the old chain rewritten
    assert "REJOIN" not in posko.log().split("rejoined:")[-1]  # asked until answered, then stopped
    assert cluster["central"].alive() and posko.alive() and damkar.alive()


def test_a_restore_fence_keeps_the_chain_verifiable_and_a_forged_one_is_caught(node):
    from edge.db import open_database

    db = open_database(node.data_dir)
    with db.connection_context():
        for i in range(3):
            with db.atomic():
                audit.append_event(None, "op", "test.step", {"i": i})
        fence = rejoin.fence_restored(Event.get(Event.seq == 1).at)
        with db.atomic():
            audit.append_event(None, "op", "test.after", {})
        assert audit.verify()[1] == []
        assert Counter.select().count() == 0 or fence.cases_skipped >= rejoin.CASES_FENCE_PER_DAY
        assert SyncPeer.select().count() == 0
        # A gap that names a different anchor is a break in the chain.
        with db.atomic():
            audit.append_event(None, "system", audit.RESTORED, {"after_seq": 2}, seq=fence.event_seq + 10)
        problems = audit.verify()[1]
        assert [p.reason for p in problems] == ["prev_hash does not match"]


@pytest.mark.parametrize("payload", [
    {"upto": 1, "above": 5, "below": 5},
    {"upto": 1, "above": -1, "below": 5},
    {"upto": 1, "above": "3", "below": 5},
    {"upto": 1, "below": 5},
])
def test_bad_rejoin_requests_are_refused(payload):
    with pytest.raises(codec.BadPayload):
        codec.decode_rejoin(codec._pack(payload))
    assert codec.decode_rejoin(codec.encode_rejoin(7, 3, 9)) == (7, 3, 9)


def test_restoring_twice_from_one_backup_fences_past_both_incarnations(tmp_path):
    from edge.services.calls import start_call
    from edge.services.incidents import create_incident
    from edge.services.users import create_user
    from tests.sync.nodes import NodeDB

    node = NodeDB(tmp_path / "posko", "posko-a")
    (node.data_dir / "sync").mkdir(exist_ok=True)
    (node.data_dir / "sync" / "sync.json").write_text('{"node_id": "posko-a"}')  # enrolled: restores fence

    def new_case() -> tuple[str, int, int, int]:
        """case number, change id, origin_seq and event seq of a new case."""
        with node.use():
            op = get_user("op")
            call = start_call(op, {"caller_number": "081277001122"})
            case = create_incident(op, {"incident_type": 3, "desa": "Senggoro", "kecamatan": "Bengkalis",
                                        "situation": "Rumah terbakar"}, call_id=call.id).incident
            change = SyncChange.select().where(SyncChange.pk == case.id).get()
            return case.case_no, change.id, change.origin_seq, Event.get(Event.incident == case).seq

    with node.use():
        create_user("op", "call_taker", "password-1234")
        SyncPeer.create(node="central", send_seq=7)
    new_case()
    backup = create_backup(node.data_dir, tmp_path / "backups")
    restore_backup(backup.path, node.data_dir, force=True)
    first = [new_case() for _ in range(3)]
    with node.use():
        first_seq = SyncPeer.get_by_id("central").send_seq
        SyncPeer.update(send_seq=SyncPeer.send_seq + 50).execute()  # envelopes it sent meanwhile
        used_seq = first_seq + 50
    restore_backup(backup.path, node.data_dir, force=True)  # the same backup again
    second = new_case()
    assert second[0] not in {c[0] for c in first} and int(second[0][-5:]) > max(int(c[0][-5:]) for c in first)
    for i in (1, 2, 3):
        assert second[i] > max(c[i] for c in first)
    with node.use():
        assert SyncPeer.get_by_id("central").send_seq > used_seq
        assert audit.verify()[1] == []
        assert Event.select().where(Event.kind == audit.RESTORED).count() == 1  # the backup had none


def test_restored_central_rejoins_every_node_and_gets_the_regency_back(cluster, tmp_path):  # noqa: F811
    from edge.models import User
    from edge.services.users import create_user

    central, posko, damkar = cluster["central"], cluster["posko-a"], cluster["damkar-1"]
    # After central's backup: a case from posko-a, Damkar's answer, a user made at central.
    _first, lost, backup = backup_between_two_cases(cluster, central, tmp_path)
    with central.use():
        create_user("op-pusat", "call_taker", "password-1234")
    cluster.wait_for(lambda: count(central, Incident, Incident.id == lost) == 1, what="second case at central")
    cluster.wait_for(lambda: count(posko, User, User.username == "op-pusat") == 1, what="central's user at posko")
    cluster.wait_for(lambda: count(posko, Dispatch, Dispatch.status == "acknowledged") == 1, what="answer at posko")

    central.stop()
    result = restore_backup(backup.path, central.data_dir, force=True)
    assert result.fence is not None
    assert count(central, Incident, Incident.id == lost) == 0 and count(central, User, User.username == "op-pusat") == 0
    central.start()
    cluster.wait_for(lambda: count(central, Incident, Incident.id == lost) == 1, what="posko-a's case back")
    cluster.wait_for(lambda: count(central, Dispatch, Dispatch.status == "acknowledged") == 1, what="Damkar's answer")
    cluster.wait_for(lambda: count(central, User, User.username == "op-pusat") == 1, what="central's own user back")

    def rejoined() -> bool:
        with central.use():
            return rejoin.pending() is None

    cluster.wait_for(rejoined, what="every node answered REJOINED")
    # The regency goes on: a new case reaches Damkar through the restored central.
    fresh = record_fire(posko, "Kelapapati")
    cluster.wait_for(lambda: count(damkar, Dispatch, Dispatch.incident == fresh) == 1, what="new dispatch at Damkar")
    with central.use():
        assert audit.verify()[1] == []
        assert Incident.select().count() == 3 and User.select().where(User.username == "op-pusat").count() == 1
    for node in (posko, damkar, cluster["posko-b"]):
        with node.use():
            assert audit.verify()[1] == []
            assert Event.get(Event.kind == "node.rejoined").actor == "system"
    assert all(node.alive() for node in cluster.nodes.values())


def test_operators_see_that_the_node_was_restored_until_central_takes_it_back(node, login):
    from edge.db import open_database
    from edge.timeutil import utcnow

    db = open_database(node.data_dir)
    with db.connection_context():
        rejoin.fence_restored(utcnow())
    page = login("operator").get("/sync").get_data(as_text=True)
    assert 'id="rejoin-pill"' in page and 'id="rejoin-note"' in page and "menunggu pusat" in page
    with db.connection_context():
        rejoin.finished("central", 0, ["central"])
    page = login("operator").get("/sync").get_data(as_text=True)
    assert 'id="rejoin-pill"' not in page and 'id="rejoin-note"' not in page


def test_a_node_whose_disk_died_with_no_backup_is_rebuilt_from_central(cluster, pki):  # noqa: F811
    import shutil

    from edge.models import User
    from edge.services.calls import start_call
    from edge.services.incidents import create_incident, dispatch_agencies
    from edge.services.node import init_node
    from edge.services.users import create_user
    from sync import pki as pki_lib

    posko, central, damkar = cluster["posko-a"], cluster["central"], cluster["damkar-1"]
    cluster.start()
    old = [record_fire(posko, "Senggoro"), record_fire(posko, "Pematang")]
    cluster.wait_for(lambda: count(damkar, Dispatch) == 2, what="dispatches at Damkar")
    with damkar.use():
        update_status(get_user("dk-1"), Dispatch.get(Dispatch.incident == old[0]).id, {"status": "acknowledged"})
    cluster.wait_for(lambda: count(posko, Dispatch, Dispatch.status == "acknowledged") == 1, what="answer at posko")
    with central.use():
        old_case_nos = {i.case_no for i in Incident.select().where(Incident.node == "posko-a")}
    posko.stop()

    # The disk dies, and its backups with it. A new disk, the same bundle, --recover.
    shutil.rmtree(posko.data_dir)
    init_node(posko.data_dir, "posko-a", "posko", "bengkalis", recover=True).db.close()
    bundle = pki_lib.load_bundle(pki.dir / "posko-a" / "bundle.json")
    bundle["broker"]["port"] = cluster.broker.port
    pki_lib.install_bundle(bundle, posko.data_dir / "sync")
    with posko.use():  # it takes a call before it reaches central
        op = create_user("op-baru", "call_taker", "password-1234")
        call = start_call(op, {"caller_number": "081277001199"})
        fresh = create_incident(op, {"incident_type": 3, "desa": "Kelapapati", "kecamatan": "Bengkalis",
                                     "situation": "Rumah terbakar"}, call_id=call.id).incident
        dispatch_agencies(op, fresh.id, ["DAMKAR"])
        assert fresh.case_no not in old_case_nos and fresh.case_no.endswith(f"{rejoin.RECOVERY_CASES + 1}")

    posko.start()
    cluster.wait_for(lambda: count(posko, Incident, Incident.id.in_(old)) == 2, what="old cases back at posko")
    cluster.wait_for(lambda: count(posko, Dispatch, Dispatch.status == "acknowledged") == 1, what="the answer back")
    cluster.wait_for(lambda: count(posko, User, User.username == "op-a") == 1, what="its own user back")
    cluster.wait_for(lambda: count(central, Incident, Incident.id == fresh.id) == 1, what="the new case at central")
    cluster.wait_for(lambda: count(damkar, Dispatch, Dispatch.incident == fresh.id) == 1, what="new dispatch at Damkar")
    cluster.wait_for(lambda: own_events(posko, "posko-a") == own_events(central, "posko-a"), what="one chain")
    for node in (posko, central):
        with node.use():
            assert audit.verify()[1] == []
    with posko.use():
        assert rejoin.pending() is None
        assert Dispatch.select().where(Dispatch.incident.in_(old)).count() == 4


def test_a_node_reset_by_hand_is_kept_apart_at_central_not_dropped(cluster, pki):  # noqa: F811
    """`init --bundle` again without --recover numbers changes from 1 again: central must not take
    them for duplicates of the old ones (lost) but keep them parked, and say so."""
    import shutil

    from edge.services.calls import start_call
    from edge.services.health import check_sync
    from edge.services.incidents import create_incident
    from edge.services.node import init_node
    from edge.services.users import create_user
    from sync import pki as pki_lib
    from sync.apply import REUSED
    from sync.models import SyncPending

    posko, central = cluster["posko-a"], cluster["central"]
    cluster.start()
    record_fire(posko, "Senggoro")
    cluster.wait_for(lambda: count(central, Incident) == 1, what="the case at central")
    posko.stop()
    shutil.rmtree(posko.data_dir)
    init_node(posko.data_dir, "posko-a", "posko", "bengkalis").db.close()  # no --recover
    bundle = pki_lib.load_bundle(pki.dir / "posko-a" / "bundle.json")
    bundle["broker"]["port"] = cluster.broker.port
    pki_lib.install_bundle(bundle, posko.data_dir / "sync")
    with posko.use():
        op = create_user("op-baru", "call_taker", "password-1234")
        call = start_call(op, {"caller_number": "081277001199"})
        fresh = create_incident(op, {"incident_type": 3, "desa": "Kelapapati", "kecamatan": "Bengkalis",
                                     "situation": "Rumah terbakar"}, call_id=call.id).incident
    posko.start()
    cluster.wait_for(lambda: count(central, SyncPending, SyncPending.reason == REUSED) > 0, what="reuse noticed")
    cluster.wait_for(lambda: count(central, SyncPending, SyncPending.change.contains(fresh.id)) > 0,
                     what="the new case kept at central")
    with central.use():
        assert Incident.select().where(Incident.id == fresh.id).count() == 0  # not merged into the old records
        health = check_sync()
        assert health.level == Level.DEGRADED and "reuse" in health.detail
    assert "reuses a number" in central.log()
