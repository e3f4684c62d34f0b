"""Central on both backends: the same node, services, web app and change capture on SQLite
(the default) and on PostgreSQL (a database URL), with a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from peewee import IntegrityError

from edge.app import create_app
from edge.cli import main as cli
from edge.db import URL_ENV, database_path, database_url, url_path
from edge.dialect import is_postgres
from edge.models import Call, Dispatch, Event, Incident, User, db_proxy
from edge.services import setting
from edge.services.admin import reset_password, set_active, switch_profile
from edge.services.audit import verify
from edge.services.board import open_cases
from edge.services.calls import classify_call, start_call
from edge.services.dispatches import update_status
from edge.services.errors import Conflict, ValidationError
from edge.services.incidents import (
    close_incident,
    create_incident,
    dispatch_agencies,
    parse_query,
    search_incidents,
    update_incident,
)
from edge.services.node import DatabaseUnavailable, init_node, open_node
from edge.services.profiles import active_profile
from edge.services.users import create_user, get_user
from sync.apply import apply_batch
from sync.models import SyncChange, SyncClock
from sync.outbox import CASE_TABLES, content_hash, read_changes
from sync.status import node_status
from tests.conftest import PASSWORD, USERS, Browserless
from tests.postgres import backend, postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def central(tmp_path: Path, backend: str | None) -> Iterator[Path]:  # noqa: F811 - fixture from tests.postgres
    """A central node on SQLite (backend None) or on a fresh PostgreSQL database, one user per role."""
    data_dir = tmp_path / "central"
    result = init_node(data_dir, "central", "central", "bengkalis", database_url=backend)
    for username, role, agency in USERS:
        create_user(username, role, PASSWORD, username.title(), agency)
    yield data_dir
    result.db.close()
    db_proxy.initialize(None)


def record_fire(user: str, desa: str = "Senggoro", number: str = "081277001122") -> str:
    op = get_user(user)
    call = start_call(op, {"caller_number": number})
    result = create_incident(op, {"incident_type": 3, "desa": desa, "kecamatan": "Bengkalis",
                                  "situation": "Rumah terbakar", "latitude": 1.4667, "longitude": 102.1,
                                  "four_wheel_access": "1"}, call_id=call.id)
    dispatch_agencies(op, result.incident.id, ["DAMKAR", "POLRES"])
    return result.incident.id


def test_central_node_records_cases_and_verifies_its_trail(central: Path, backend: str | None):  # noqa: F811
    if backend:
        assert url_path(central).stat().st_mode & 0o777 == 0o600
        assert database_url(central) == backend and not database_path(central).exists()
    else:
        assert database_path(central).exists() and database_url(central) is None
    db = open_node(central)  # as every process opens it
    assert setting("node_role") == "central"
    first, second = record_fire("supervisor"), record_fire("supervisor", "Pematang Duku", "081299887766")
    prank = start_call(get_user("operator"), {"caller_number": "081200000001"})
    classify_call(get_user("operator"), prank.id, {"call_type": "prank"})
    damkar = get_user("damkar")
    dispatch = Dispatch.get((Dispatch.incident == first) & (Dispatch.agency == damkar.agency_id))
    update_status(damkar, dispatch.id, {"status": "acknowledged"})
    update_incident(get_user("supervisor"), second, {"victims_count": 2, "address": "Jl. Bantan"})
    close_incident(get_user("supervisor"), second, {"final_report": "Api padam"})
    assert Incident.select().count() == 2 and Call.select().count() == 3
    assert {row.incident.id for row in open_cases()} == {first}
    found, total = search_incidents(get_user("supervisor"), parse_query({"q": "pematang"}))  # case-insensitive
    assert total == 1 and found[0].id == second
    assert Incident.get_by_id(first).four_wheel_access is True
    # administration at central: users and the routing profile
    admin = get_user("admin")
    set_active(admin, "polres", False)
    assert reset_password(admin, "operator")
    assert switch_profile(admin, "semarang") == "semarang" and active_profile().id == "semarang"
    checked, problems = verify()
    assert problems == [] and checked == Event.select().count() > 10
    status = node_status()
    assert status.peers == [] and not status.enabled
    # every write was captured once, with this node's consecutive sequence numbers
    seqs = [c.origin_seq for _i, c, _v in read_changes(0, 100_000)]
    assert seqs == list(range(1, len(seqs) + 1))
    db.close()


def test_central_web_app_on_both_backends(central: Path):
    app = create_app(central, TESTING=True)
    with app.app_context():
        open_node(central)
        incident_id = record_fire("supervisor")

    def login(username: str) -> Browserless:
        client = Browserless(app.test_client())
        client.get("/login")
        assert client.post("/login", {"username": username, "password": PASSWORD}).status_code == 302
        return client

    supervisor, pusat = login("supervisor"), login("pusat")
    for client, url in ((supervisor, "/board"), (supervisor, "/archive?q=senggoro"), (supervisor, "/reports/shift"),
                        (supervisor, f"/incidents/{incident_id}"), (supervisor, "/reports/incidents.csv"),
                        (pusat, "/archive"), (pusat, "/sync"), (pusat, "/pusat/"), (pusat, "/pusat/laporan/")):
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    assert "Senggoro" in supervisor.get("/board").get_data(as_text=True)


def test_append_only_and_never_deleted_guards(central: Path, backend: str | None):  # noqa: F811
    db = open_node(central)
    incident_id = record_fire("supervisor")
    event = Event.select().order_by(Event.seq.desc()).first()
    for attempt in (lambda: Event.update(kind="forged").where(Event.id == event.id).execute(),
                    lambda: Event.delete().where(Event.id == event.id).execute(),
                    lambda: Incident.delete().where(Incident.id == incident_id).execute()):
        with pytest.raises(IntegrityError, match="append-only|never deleted"):
            with db.atomic():
                attempt()
    if backend:
        with pytest.raises(IntegrityError, match="append-only"):
            with db.atomic():
                db.execute_sql("TRUNCATE event CASCADE")
    assert Event.get_by_id(event.id).kind == event.kind and verify()[1] == []
    db.close()


def test_capture_on_postgresql_writes_what_sqlite_writes(tmp_path: Path, postgres_url: str):  # noqa: F811
    """The same service calls on a SQLite and a PostgreSQL central log the same columns and values."""
    logs = {}
    for name, url in (("sqlite", None), ("postgresql", postgres_url)):
        init_node(tmp_path / name, "central", "central", "bengkalis", database_url=url).db.close()
        db = open_node(tmp_path / name)
        create_user("sup", "supervisor", PASSWORD)
        incident_id = record_fire("sup")
        update_incident(get_user("sup"), incident_id, {"victims_count": 3, "landmark": "Masjid"})
        rows = SyncChange.select().where(SyncChange.tbl.in_(["incident", "user", "dispatch"])).order_by(SyncChange.id)
        logs[name] = [(r.tbl, r.op, r.origin, r.origin_seq, json.loads(r.data)) for r in rows]
        hlcs = [r.hlc for r in SyncChange.select().order_by(SyncChange.id)]
        assert hlcs == sorted(hlcs) and len(set(hlcs)) == len(hlcs)  # every change its own tick
        assert SyncClock.get_by_id(1).hlc == hlcs[-1]
        db.close()
        db_proxy.initialize(None)
    sqlite, pg = logs["sqlite"], logs["postgresql"]
    assert [r[:4] for r in sqlite] == [r[:4] for r in pg]
    for a, b in zip(sqlite, pg, strict=True):
        assert list(a[4]) == list(b[4])  # same columns, same order
        assert [type(v) for v in a[4].values()] == [type(v) for v in b[4].values()]  # datetimes text, booleans 1/0
    volatile = {"password_hash", "case_no", "code", "incident_id"}

    def stable(rows: list) -> list[str]:  # what does not depend on random ids or the clock
        return sorted(json.dumps({k: v for k, v in data.items() if k not in volatile and not k.endswith("_at")},
                                 sort_keys=True) for *_key, data in rows)

    assert stable(sqlite) == stable(pg)
    update = [r for r in pg if r[0] == "incident" and r[1] == "update"][-1][4]
    assert set(update) == {"victims_count", "landmark", "updated_at"}  # only what changed


def test_changes_flow_between_sqlite_posko_and_postgresql_central(tmp_path: Path, postgres_url: str):  # noqa: F811
    """Apply (no network) both ways: the case arrives, a central edit comes back, hashes agree."""
    init_node(tmp_path / "posko", "posko-a", "posko", "bengkalis").db.close()
    init_node(tmp_path / "central", "central", "central", "bengkalis", database_url=postgres_url).db.close()

    def use(name: str):
        db_proxy.initialize(None)
        return open_node(tmp_path / name)

    use("posko")
    create_user("op-a", "call_taker", PASSWORD)
    incident_id = record_fire("op-a")
    from_posko = [c for _i, c, _v in read_changes(0, 100_000)]
    central_db = use("central")
    result = apply_batch(from_posko, via="posko-a")
    assert result.applied == len(from_posko) and result.parked == 0
    assert apply_batch(from_posko, via="posko-a").duplicates == len(from_posko)  # idempotent
    after = SyncChange.select().order_by(SyncChange.id.desc()).first().id
    assert SyncClock.get_by_id(1).hlc >= max(c.hlc for c in from_posko)  # the clock followed
    update_incident(get_user("supervisor") if User.select().where(User.username == "supervisor").exists()
                    else get_user("admin"), incident_id, {"address": "Jl. Pusat", "victims_count": 4})
    edit = [c for _i, c, _v in read_changes(after, 100)]
    assert edit and all(c.origin == "central" and c.hlc > max(x.hlc for x in from_posko) for c in edit)
    central_hash = content_hash(CASE_TABLES)
    central_db.close()
    use("posko")
    assert apply_batch(edit, via="central").applied == len(edit)
    inc = Incident.get_by_id(incident_id)
    assert (inc.address, inc.victims_count, inc.four_wheel_access) == ("Jl. Pusat", 4, True)
    assert content_hash(CASE_TABLES) == central_hash
    db_proxy.obj.close()
    db_proxy.initialize(None)


def test_init_refuses_a_url_for_posko_and_a_second_node(tmp_path: Path, postgres_url: str):  # noqa: F811
    with pytest.raises(ValidationError) as err:
        init_node(tmp_path / "posko", "posko-a", "posko", database_url=postgres_url)
    assert "database_url" in err.value.errors and not (tmp_path / "posko" / "database_url").exists()
    with pytest.raises(ValidationError):
        init_node(tmp_path / "c", "central", "central", database_url="mysql://x@y/z")
    with pytest.raises(DatabaseUnavailable) as down:  # no server there: named, nothing written
        init_node(tmp_path / "c", "central", "central", database_url="postgresql://x@127.0.0.1:1/z")
    assert "127.0.0.1" in down.value.params["error"] and not url_path(tmp_path / "c").exists()
    init_node(tmp_path / "c1", "central", "central", database_url=postgres_url).db.close()
    with pytest.raises(Conflict):  # the database already holds a node
        init_node(tmp_path / "c2", "central", "central", database_url=postgres_url)
    assert not url_path(tmp_path / "c2").exists()
    with pytest.raises(Conflict):  # the folder already is a node
        init_node(tmp_path / "c1", "central", "central", database_url=postgres_url)
    db_proxy.initialize(None)


def test_cli_init_with_database_url_and_env_override(tmp_path: Path, postgres_url: str, monkeypatch):  # noqa: F811
    runner = CliRunner()
    out = runner.invoke(cli, ["init", "--role", "central", "--node-id", "central", "--database-url", postgres_url,
                              "--data-dir", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    assert "PostgreSQL" in out.output
    out = runner.invoke(cli, ["init", "--role", "posko", "--node-id", "posko-a", "--database-url", postgres_url,
                              "--data-dir", str(tmp_path / "p")])
    assert out.exit_code == 2 and "database_url" in out.output
    monkeypatch.setenv(URL_ENV, postgres_url.rsplit("/", 1)[0] + "/no_such_db")
    out = runner.invoke(cli, ["user", "add", "pusat-2", "--role", "central", "--data-dir", str(tmp_path / "c")])
    assert out.exit_code == 2 and "no_such_db" in out.output  # the env URL was used, the failure is named
    monkeypatch.delenv(URL_ENV)
    out = runner.invoke(cli, ["user", "add", "pusat-2", "--role", "central", "--data-dir", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    db_proxy.initialize(None)


def test_db_copy_moves_a_sqlite_central_to_postgresql(tmp_path: Path, postgres_url: str):  # noqa: F811
    data_dir = tmp_path / "central"
    init_node(data_dir, "central", "central", "bengkalis").db.close()
    db = open_node(data_dir)
    create_user("sup", "supervisor", PASSWORD)
    incident_id = record_fire("sup")
    update_incident(get_user("sup"), incident_id, {"victims_count": 1})
    before = content_hash()
    last = SyncChange.select().order_by(SyncChange.id.desc()).first()
    clock = SyncClock.get_by_id(1).hlc
    db.close()
    db_proxy.initialize(None)
    out = CliRunner().invoke(cli, ["db", "copy", "--to", postgres_url, "--data-dir", str(data_dir)])
    assert out.exit_code == 0, out.output
    assert database_url(data_dir) == postgres_url and not database_path(data_dir).exists()
    assert (data_dir / "siaga112.sqlite3.before-postgresql").exists()
    db = open_node(data_dir)
    assert is_postgres(db) and content_hash() == before and verify()[1] == []
    close_incident(get_user("sup"), incident_id, {"final_report": "Selesai"})  # life goes on, on PostgreSQL
    new = SyncChange.select().where(SyncChange.id > last.id).order_by(SyncChange.id)
    assert [c.origin_seq for c in new][:1] == [last.origin_seq + 1] and new[0].hlc > clock
    db.close()
    db_proxy.initialize(None)
    again = CliRunner().invoke(cli, ["db", "copy", "--to", postgres_url, "--data-dir", str(data_dir)])
    assert again.exit_code == 2 and "already uses a database URL" in again.output


def test_db_copy_refuses_a_posko_and_a_non_empty_target(tmp_path: Path, postgres_url: str):  # noqa: F811
    init_node(tmp_path / "posko", "posko-a", "posko", "bengkalis").db.close()
    out = CliRunner().invoke(cli, ["db", "copy", "--to", postgres_url, "--data-dir", str(tmp_path / "posko")])
    assert out.exit_code == 2 and "only a central" in out.output
    init_node(tmp_path / "pg", "central", "central", database_url=postgres_url).db.close()
    init_node(tmp_path / "c", "central", "central", "bengkalis").db.close()
    out = CliRunner().invoke(cli, ["db", "copy", "--to", postgres_url, "--data-dir", str(tmp_path / "c")])
    assert out.exit_code == 2 and "not empty" in out.output and database_url(tmp_path / "c") is None
    db_proxy.initialize(None)


def test_regency_report_is_the_same_on_both_backends(tmp_path: Path, postgres_url: str):  # noqa: F811
    """The same records (one posko's log applied to a SQLite and a PostgreSQL central) give the same report."""
    from dataclasses import asdict

    from central.reporting import build_report
    from central.reporting.csvfile import report_csv
    from central.reporting.periods import year_period
    from edge.timeutil import utcnow, wib_today

    init_node(tmp_path / "posko", "posko-a", "posko", "bengkalis").db.close()
    open_node(tmp_path / "posko")
    create_user("op-a", "call_taker", PASSWORD)
    create_user("dk", "agency", PASSWORD, agency_code="DAMKAR")
    ids = [record_fire("op-a", f"Desa {i}", f"0812770{i:05d}") for i in range(3)]
    dk = get_user("dk")
    for status in ("acknowledged", "en_route", "on_scene"):
        update_status(dk, Dispatch.get((Dispatch.incident == ids[0]) & (Dispatch.agency == dk.agency_id)).id,
                      {"status": status})
    classify_call(get_user("op-a"), start_call(get_user("op-a"), {"caller_number": "081200000009"}).id,
                  {"call_type": "prank"})
    changes = [c for _i, c, _v in read_changes(0, 100_000)]
    db_proxy.obj.close()
    now, reports = utcnow(), {}
    for name, url in (("sqlite", None), ("postgresql", postgres_url)):
        db_proxy.initialize(None)
        init_node(tmp_path / name, "central", "central", "bengkalis", database_url=url).db.close()
        db = open_node(tmp_path / name)
        assert apply_batch(changes, via="posko-a").parked == 0
        report = build_report(year_period(wib_today().year), now=now)
        reports[name] = (asdict(report), report_csv(report))
        db.close()
    db_proxy.initialize(None)
    assert reports["sqlite"] == reports["postgresql"]
    figures = reports["postgresql"][0]
    assert figures["open_at_end"] == 3 and figures["response"]["measured"] == 1


def test_concurrent_writers_on_postgresql_keep_sequences_and_chain(tmp_path: Path, postgres_url: str):  # noqa: F811
    """Three processes record cases at once (as gunicorn workers would): case numbers, origin
    sequences, change-log order and the audit chain stay as on SQLite's single writer."""
    import subprocess
    import sys

    data_dir = tmp_path / "central"
    init_node(data_dir, "central", "central", "bengkalis", database_url=postgres_url).db.close()
    open_node(data_dir)
    create_user("op", "call_taker", PASSWORD)
    db_proxy.obj.close()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.sync.act", str(data_dir), "record_many",
                               json.dumps({"user": "op", "n": 5})], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0] and sum(len(o) for o in outputs) == 15
    db = open_node(data_dir)
    incidents = list(Incident.select())
    assert len(incidents) == 15 and len({i.case_no for i in incidents}) == 15
    assert verify()[1] == []
    log = list(SyncChange.select().order_by(SyncChange.id))
    assert [c.origin_seq for c in log] == list(range(1, len(log) + 1))  # commit order = id order
    assert all(a.hlc < b.hlc for a, b in zip(log, log[1:], strict=False))
    db.close()
    db_proxy.initialize(None)


def test_write_transactions_exclude_each_other(central: Path):
    """write_tx (atomic IMMEDIATE) is one writer at a time on both backends: a second writer waits."""
    import threading
    import time

    from edge.services import write_tx

    db = open_node(central)
    inside, waited = threading.Event(), []

    def first() -> None:
        with db.connection_context(), write_tx():
            inside.set()
            time.sleep(0.6)

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    start = time.monotonic()
    with db.connection_context(), write_tx():
        waited.append(time.monotonic() - start)
    thread.join()
    assert waited[0] > 0.4
    db.close()


def test_missing_postgresql_fails_under_ci_and_skips_elsewhere(monkeypatch):
    from tests import postgres

    monkeypatch.setattr(postgres, "PG_BIN_GLOB", "/nonexistent/postgresql/*/bin")
    server = postgres.PostgresServer()
    with pytest.raises(postgres.PostgresUnavailable, match="apt-get install postgresql"):
        server.start()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        postgres._unavailable(postgres.MISSING)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        postgres._unavailable(postgres.MISSING)
