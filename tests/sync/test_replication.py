"""End to end: four nodes, four sync processes, one real Mosquitto with TLS client certificates."""

from __future__ import annotations

import pytest

from edge.models import Call, Dispatch, Event, Incident
from edge.services.calls import start_call
from edge.services.dispatches import update_status
from edge.services.incidents import create_incident, dispatch_agencies
from edge.services.users import create_user, get_user
from sync.models import SyncChange
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
        dupes = central.use  # noqa: F841
        assert SyncChange.select().where(SyncChange.tbl == "incident", SyncChange.pk == incident_id).count() == \
            count(cluster["posko-a"], SyncChange, SyncChange.tbl == "incident", SyncChange.pk == incident_id)
    # Damkar acknowledges; the posko sees it through central.
    with damkar.use():
        update_status(get_user("dk-1"), Dispatch.get().id, {"status": "acknowledged"})
    cluster.wait_for(lambda: count(cluster["posko-a"], Dispatch, Dispatch.status == "acknowledged") == 1,
                     what="acknowledgement back at posko-a")
    assert count(cluster["posko-b"], Incident) == 0  # another kecamatan's posko is not concerned
