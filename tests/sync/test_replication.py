"""End to end: four nodes, four sync processes, one real Mosquitto with TLS client certificates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.models import Call, Dispatch, Event, Incident, User
from edge.services.calls import start_call
from edge.services.dispatches import update_status
from edge.services.incidents import create_incident, dispatch_agencies, update_incident
from edge.services.users import create_user, get_user
from edge.timeutil import utcnow
from sync.models import SyncChange
from sync.outbox import CASE_TABLES, content_hash
from tests.sync.cluster import Cluster


@pytest.fixture
def cluster(tmp_path, pki, broker):
    c = Cluster(tmp_path / "nodes", pki.dir, broker)
    with c["posko-a"].use():
        create_user("op-a", "call_taker", "password-1234")
    with c["damkar-1"].use():
        create_user("dk-1", "agency", "password-1234", agency_code="DAMKAR")
    yield c
    c.stop()


def record_fire(node, desa="Senggoro") -> str:
    with node.use():
        op = get_user("op-a")
        call = start_call(op, {"caller_number": "081277001122"})
        result = create_incident(op, {"incident_type": 3, "desa": desa, "kecamatan": "Bengkalis",
                                      "situation": "Rumah terbakar"}, call_id=call.id)
        dispatch_agencies(op, result.incident.id, ["DAMKAR", "POLRES"])
        return result.incident.id


def count(node, model, *where) -> int:
    with node.use():
        query = model.select()
        for clause in where:
            query = query.where(clause)
        return query.count()


def test_case_recorded_while_broker_down_arrives_exactly_once(cluster):
    cluster.broker.stop()
    cluster.start()
    incident_id = record_fire(cluster["posko-a"])
    cluster.broker.start()
    central, damkar = cluster["central"], cluster["damkar-1"]
    cluster.wait_for(lambda: count(central, Incident, Incident.id == incident_id) == 1, what="case at central")
    cluster.wait_for(lambda: count(damkar, Dispatch) == 1, what="dispatch at Damkar")
    with damkar.use():
        d = Dispatch.get()
        assert d.agency.code == "DAMKAR" and d.incident_id == incident_id
        assert Incident.select().count() == 1  # the incident's details came along
        assert Call.select().count() == 0  # caller data stays with posko and central
        assert Event.select().where(Event.kind == "dispatch.sent").count() == 1  # only its own dispatch event
    with central.use():
        assert Dispatch.select().where(Dispatch.incident == incident_id).count() == 2
        assert SyncChange.select().where(SyncChange.tbl == "incident", SyncChange.pk == incident_id).count() == \
            count(cluster["posko-a"], SyncChange, SyncChange.tbl == "incident", SyncChange.pk == incident_id)
    # Damkar acknowledges; the posko sees it through central.
    with damkar.use():
        update_status(get_user("dk-1"), Dispatch.get().id, {"status": "acknowledged"})
    cluster.wait_for(lambda: count(cluster["posko-a"], Dispatch, Dispatch.status == "acknowledged") == 1,
                     what="acknowledgement back at posko-a")
    assert count(cluster["posko-b"], Incident) == 0  # another kecamatan's posko is not concerned


def act(node, action: str, args: dict, skew: str | None = None) -> list[str]:
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "tests.sync.act", str(node.data_dir), action, json.dumps(args)]
    if skew:
        cmd = ["faketime", "-f", skew, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def case_hash(node, incident_id: str) -> tuple:
    with node.use():
        inc = Incident.get_by_id(incident_id)
        fields = {f: getattr(inc, f) for f in ("address", "landmark", "victims_count", "status", "priority")}
        dispatches = sorted((d.id, d.status) for d in inc.dispatches)
        return fields, dispatches


def case_tables_hash(node) -> str:
    with node.use():
        return content_hash(CASE_TABLES)


def test_concurrent_edits_during_a_partition_converge(cluster):
    cluster.start()
    incident_id = record_fire(cluster["posko-a"])
    central, posko = cluster["central"], cluster["posko-a"]
    cluster.wait_for(lambda: count(central, Incident) == 1, what="case at central")
    with central.use():
        create_user("sup-pusat", "supervisor", "password-1234")
    cluster.wait_for(lambda: count(posko, User, User.username == "sup-pusat") == 1, what="central's user at posko")
    cluster.broker.stop()  # partition: both sides keep working
    act(posko, "edit", {"user": "op-a", "incident": incident_id,
                        "fields": {"address": "Jl. Posko", "landmark": "Masjid"}})
    act(central, "edit", {"user": "sup-pusat", "incident": incident_id,
                          "fields": {"address": "Jl. Pusat", "victims_count": 3}})
    cluster.broker.start()  # heal
    cluster.wait_for(lambda: case_hash(posko, incident_id) == case_hash(central, incident_id), what="convergence")
    fields, _ = case_hash(posko, incident_id)
    assert fields["landmark"] == "Masjid" and fields["victims_count"] == 3  # both sides' fields kept
    assert fields["address"] in ("Jl. Posko", "Jl. Pusat")
    cluster.wait_for(lambda: case_tables_hash(posko) == case_tables_hash(central), what="equal content hashes")
    with posko.use():
        assert Event.select().where(Event.kind == "incident.updated").count() == 2  # both edits on the timeline


def test_a_posko_one_hour_slow_still_merges_in_causal_order(cluster):
    """posko-a's clock is an hour behind. Central edits the address; posko-a sees that edit
    and corrects it afterwards. Wall-clock last-writer-wins would keep central's older edit;
    the hybrid logical clock keeps posko-a's later one, on every node."""
    cluster.start()
    central, posko = cluster["central"], cluster["posko-a"]
    incident_id = act(posko, "record", {"user": "op-a"}, skew="-1h")[0]
    cluster.wait_for(lambda: count(central, Incident) == 1, what="case at central")
    with central.use():
        create_user("sup-pusat", "supervisor", "password-1234")
        update_incident(get_user("sup-pusat"), incident_id, {"address": "Jl. Pusat (salah)"})
    cluster.wait_for(lambda: case_hash(posko, incident_id)[0]["address"] == "Jl. Pusat (salah)",
                     what="central's edit at posko-a")
    act(posko, "edit", {"user": "op-a", "incident": incident_id, "fields": {"address": "Jl. Benar 7"}}, skew="-1h")
    cluster.wait_for(lambda: case_hash(central, incident_id)[0]["address"] == "Jl. Benar 7",
                     what="posko-a's later edit winning at central")
    with posko.use():
        assert Incident.get_by_id(incident_id).address == "Jl. Benar 7"
        # The record itself carries posko-a's (wrong) wall time: the HLC, not created_at, orders edits.
        assert Incident.get_by_id(incident_id).recorded_at < utcnow() - timedelta(minutes=50)


def test_kill_9_of_sync_and_writer_mid_batch_and_broker_restart_lose_and_duplicate_nothing(cluster):
    import random
    import subprocess
    import sys
    import time

    central, posko = cluster["central"], cluster["posko-a"]
    cluster.start()
    # A writer process records cases continuously; it is killed -9 in the middle.
    writer = subprocess.Popen([sys.executable, "-m", "tests.sync.act", str(posko.data_dir), "record_many",
                               '{"user": "op-a", "n": 400}'], stdout=subprocess.PIPE, text=True)
    acknowledged: list[str] = []
    rng = random.Random(112)
    deadline = time.monotonic() + 60
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        acknowledged.append(writer.stdout.readline().strip())
        if len(acknowledged) == 20:
            posko.kill()  # sync daemon killed while batches are in flight
        if len(acknowledged) == 30:
            posko.start()
            central.kill()
        if len(acknowledged) == 40:
            cluster.broker.restart()
            central.start()
    writer.kill()  # the web app / writer dies mid-write
    writer.wait()
    time.sleep(rng.random())
    posko.kill()
    posko.start()
    acknowledged = [a for a in acknowledged if a]
    with posko.use():
        local_ids = {i.id for i in Incident.select()}
    assert set(acknowledged) <= local_ids  # every acknowledged write is durable
    cluster.wait_for(lambda: count(central, Incident) == len(local_ids), timeout=90, what="all cases at central")
    cluster.wait_for(lambda: case_tables_hash(central) == case_tables_hash(posko), timeout=60,
                     what="identical case tables")
    with central.use():
        dupes = central_dupes()
        assert dupes == 0
    with posko.use():
        assert central_dupes() == 0


def central_dupes() -> int:
    from edge.models import db_proxy

    return db_proxy.obj.execute_sql(
        "SELECT COUNT(*) FROM (SELECT origin, origin_seq FROM sync_change GROUP BY 1, 2 HAVING COUNT(*) > 1)"
    ).fetchone()[0]


def test_people_see_sync_state_in_the_header_and_on_central(cluster):
    from edge.app import create_app
    from tests.conftest import Browserless

    cluster.start()
    record_fire(cluster["posko-a"])
    central = cluster["central"]
    cluster.wait_for(lambda: count(central, Incident) == 1, what="case at central")
    with central.use():
        create_user("pusat-1", "central", "password-1234")
    cluster.wait_for(lambda: count(cluster["posko-a"], User, User.username == "pusat-1") == 1, what="user sync")

    def page(node, username, path):
        app = create_app(node.data_dir)
        b = Browserless(app.test_client())
        b.get("/login")
        assert b.post("/login", {"username": username, "password": "password-1234"}).status_code == 302
        return b.get(path).get_data(as_text=True)

    cluster.wait_for(lambda: 'data-sync="online"' in page(cluster["posko-a"], "op-a", "/archive"),
                     what="posko-a header online")
    html = page(central, "pusat-1", "/sync")
    for node in ("posko-a", "posko-b", "damkar-1"):
        assert f'data-node="{node}"' in html
    cluster["posko-a"].stop()  # its last will / offline state reaches central
    cluster.wait_for(lambda: 'data-node="posko-a"><td>posko-a</td><td><span class="pill t-red"'
                     in page(central, "pusat-1", "/sync"), what="posko-a shown offline at central")


def test_audit_chains_verify_on_every_node_after_sync(cluster):
    from edge.services.audit import verify

    cluster.start()
    record_fire(cluster["posko-a"])
    cluster.wait_for(lambda: count(cluster["damkar-1"], Dispatch) == 1, what="dispatch at Damkar")
    cluster.wait_for(lambda: count(cluster["central"], Event) == count(cluster["posko-a"], Event), what="events")
    for name in ("central", "posko-a", "damkar-1"):
        with cluster[name].use():
            checked, problems = verify()
            assert checked > 0 and problems == [], (name, problems)
            if name == "damkar-1":  # it holds only part of posko-a's chain, and that part checks
                assert Event.select().where(Event.node == "posko-a").count() < \
                    count(cluster["posko-a"], Event, Event.node == "posko-a")
