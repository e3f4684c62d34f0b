"""Defence in depth at the application layer: what the broker lets through, the envelope
layer still refuses (forged signature, replay, revoked node), and nothing is applied."""

from __future__ import annotations

import pytest

from edge.ids import stable_id
from edge.models import User
from sync import codec
from sync import pki as pki_lib
from sync.envelope import Kind, NodeKeys, directory_from_json, seal
from sync.merge import Change
from sync.pki import load_node_keys
from tests.sync.cluster import Cluster
from tests.sync.conftest import mqtt_client
from tests.sync.test_replication import count, record_fire


@pytest.fixture
def cluster(tmp_path, pki, broker):
    c = Cluster(tmp_path / "nodes", pki.dir, broker)
    with c["posko-a"].use():
        from edge.services.users import create_user

        create_user("op-a", "call_taker", "password-1234")
    yield c
    c.stop()


def evil_batch(origin_seq: int) -> bytes:
    """A batch that would create an admin user called 'mallory' if anyone applied it."""
    change = Change("posko-a", origin_seq, 1 << 60, "user", stable_id("user", "mallory"), "insert",
                    {"node": "posko-a", "username": "mallory", "role": "admin", "password_hash": "x",
                     "created_at": "2026-11-25 00:00:00", "updated_at": "2026-11-25 00:00:00"})
    return codec.encode_batch([change], upto=10**9)


def central_keys(cluster):
    entries = pki_lib.load_directory(cluster["posko-a"].data_dir / "sync" / "directory.json")
    return directory_from_json(entries)["central"]


def test_forged_signature_and_replay_are_refused_and_logged(cluster, pki, broker):
    cluster.start()
    central = cluster["central"]
    record_fire(cluster["posko-a"])
    cluster.wait_for(lambda: count(central, User, User.username == "op-a") == 1, what="posko-a synced")
    client = mqtt_client(pki, "posko-a", broker)
    topic = "siaga112/posko-a/to/central"
    # 1. Forged: posko-a's name, someone else's signing key.
    forger = NodeKeys.generate("posko-a")
    client.publish_wait(topic, seal(forger, central_keys(cluster), Kind.CHANGES, 10**6, evil_batch(10**6)))
    # 2. Replay: a genuine posko-a envelope with an old sequence number.
    sign, enc = load_node_keys(cluster["posko-a"].data_dir / "sync")
    genuine = NodeKeys("posko-a", sign, enc)
    client.publish_wait(topic, seal(genuine, central_keys(cluster), Kind.CHANGES, 1, evil_batch(10**6 + 1)))
    # 3. Garbage and a truncated envelope on the same topic: logged, the loop goes on.
    client.publish_wait(topic, b"\x00garbage")
    client.publish_wait(topic, seal(genuine, central_keys(cluster), Kind.CHANGES, 10**7, evil_batch(7))[:50])
    client.disconnect()
    cluster.wait_for(lambda: "BadSignature" in central.log() and "replayed" in central.log()
                     and "Malformed" in central.log(), what="rejections logged")
    assert count(central, User, User.username == "mallory") == 0
    # The sync loop still works after all that.
    incident_id = record_fire(cluster["posko-a"], desa="Sesudah")
    from edge.models import Incident

    cluster.wait_for(lambda: count(central, Incident, Incident.id == incident_id) == 1, what="sync still running")


def test_revoked_node_is_refused_at_once_by_central(cluster, pki):
    from edge.models import Incident

    cluster.start()
    central = cluster["central"]
    pki_lib.revoke_node(pki.dir, "posko-a")
    pki_lib.write_directory(pki.dir, central.data_dir / "sync" / "directory.json")
    incident_id = record_fire(cluster["posko-a"])
    cluster.wait_for(lambda: "RevokedSender" in central.log() or "not a peer" in central.log(),
                     what="revocation in effect")
    assert count(central, Incident, Incident.id == incident_id) == 0
