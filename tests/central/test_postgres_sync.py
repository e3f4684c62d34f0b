"""Real sync into a PostgreSQL central: posko-a on SQLite and central on PostgreSQL, each with
its own `siaga112 sync run` process, joined by a real Mosquitto with TLS client certificates."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.db import open_database
from edge.models import Agency, Call, Dispatch, Event, Incident, User, db_proxy
from edge.services import write_tx
from edge.services.admin import set_active
from edge.services.incidents import update_incident
from edge.services.node import init_node
from edge.services.users import create_user, get_user
from sync import pki as pki_lib
from sync.localnet import spawn, stop_process
from sync.outbox import CASE_TABLES, content_hash
from tests.central.test_postgres import record_fire
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.sync.conftest import broker, pki  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Node:
    def __init__(self, root: Path, node_id: str, role: str, pki_dir: Path, port: int, url: str | None = None) -> None:
        self.data_dir = root / node_id
        init_node(self.data_dir, node_id, role, "bengkalis", database_url=url).db.close()
        db_proxy.initialize(None)
        bundle = pki_lib.load_bundle(pki_dir / node_id / "bundle.json")
        bundle["broker"]["port"] = port
        pki_lib.install_bundle(bundle, self.data_dir / "sync")
        if role == "central":
            pki_lib.write_directory(pki_dir, self.data_dir / "sync" / "directory.json")
        self.log = self.data_dir / "sync.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = spawn([sys.executable, "-m", "edge.cli", "sync", "run", "--data-dir", str(self.data_dir)],
                          self.log, {"SIAGA112_LOG_LEVEL": "INFO"})

    def stop(self) -> None:
        stop_process(self.proc)

    @contextmanager
    def use(self) -> Iterator:
        db = open_database(self.data_dir)
        try:
            with db.connection_context():
                yield db
        finally:
            db.close()
            db_proxy.initialize(None)


def wait_for(predicate: Callable[[], bool], nodes: list[Node], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {n.data_dir.name} ---\n{n.log.read_text(errors='replace')[-3000:]}" for n in nodes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def regency(tmp_path: Path, pki, broker, postgres_url: str) -> Iterator[tuple[Node, Node, Node]]:  # noqa: F811
    central = Node(tmp_path, "central", "central", pki.dir, broker.port, url=postgres_url)
    posko = Node(tmp_path, "posko-a", "posko", pki.dir, broker.port)
    damkar = Node(tmp_path, "damkar-1", "agency", pki.dir, broker.port)
    with posko.use():
        create_user("op-a", "call_taker", "password-1234")
    nodes = (central, posko, damkar)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def test_posko_on_sqlite_and_central_on_postgresql_converge(regency):
    central, posko, damkar = regency
    for node in regency:
        node.start()
    with posko.use():
        incident_id = record_fire("op-a")

    def at_central() -> int:
        with central.use():
            return Dispatch.select().where(Dispatch.incident == incident_id).count()

    wait_for(lambda: at_central() == 2, [central, posko], "the case and its dispatches at central (PostgreSQL)")

    def at_damkar() -> int:  # central routes (and backfills) from PostgreSQL to the agency station
        with damkar.use():
            return Dispatch.select().count() + Incident.select().count()

    wait_for(lambda: at_damkar() == 2, [central, damkar], "Damkar's dispatch and its incident at damkar-1")
    with damkar.use():
        assert Dispatch.get().agency.code == "DAMKAR" and Call.select().count() == 0
        assert Event.select().where(Event.kind == "dispatch.sent").count() == 1  # only its own dispatch event
    with central.use():
        assert Incident.get_by_id(incident_id).kecamatan == "Bengkalis"
        assert User.get(User.username == "op-a").node == "posko-a"
        admin = get_user("admin")
        update_incident(admin, incident_id, {"address": "Jl. Pusat 1", "victims_count": 2})  # a case edit
        set_active(admin, "op-a", False)  # administration from central
        with write_tx():
            agency = Agency.get(Agency.code == "DAMKAR")
            agency.phone = "0766-21112"
            agency.save()

    def edits_at_posko() -> bool:
        with posko.use():
            return (Incident.get_by_id(incident_id).address == "Jl. Pusat 1"
                    and not User.get(User.username == "op-a").active
                    and Agency.get(Agency.code == "DAMKAR").phone == "0766-21112")

    wait_for(edits_at_posko, [central, posko], "central's edits back at posko-a")

    # Central's own events about users stay at central (routing); everything of the case is equal.
    tables = tuple(t for t in CASE_TABLES if t != "event") + ("agency",)

    def state(node: Node) -> tuple[str, list]:
        with node.use():
            events = [(e.id, e.hash) for e in Event.select().where(Event.incident == incident_id).order_by(Event.id)]
            return content_hash(tables), events

    wait_for(lambda: state(central) == state(posko), [central, posko], "equal content hashes")
    assert len(state(posko)[1]) >= 4  # recorded, dispatched (2), edited at central


def test_a_restored_posko_rejoins_a_postgresql_central(regency, tmp_path):
    from edge.services import audit
    from edge.services.backup import create_backup, restore_backup

    central, posko, _damkar = regency
    central.start()
    posko.start()

    def at_central(incident_id: str) -> bool:
        with central.use():
            return Incident.select().where(Incident.id == incident_id).exists()

    def at_posko(incident_id: str) -> bool:
        with posko.use():
            return Incident.select().where(Incident.id == incident_id).exists()

    with posko.use():
        first = record_fire("op-a")
    wait_for(lambda: at_central(first), [central, posko], "the first case at central")
    posko.stop()
    backup = create_backup(posko.data_dir, tmp_path / "backups")
    posko.start()
    with posko.use():
        lost = record_fire("op-a")
    wait_for(lambda: at_central(lost), [central, posko], "the second case at central")
    posko.stop()
    assert restore_backup(backup.path, posko.data_dir, force=True).fence is not None
    with posko.use():
        fresh = record_fire("op-a")
    posko.start()
    wait_for(lambda: at_central(fresh), [central, posko], "the case made after the restore at central")
    wait_for(lambda: at_posko(lost), [central, posko], "the lost case back from PostgreSQL")
    with central.use():
        assert audit.verify()[1] == []
        assert Event.select().where(Event.kind == "node.rejoined").count() == 1
