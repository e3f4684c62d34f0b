"""/healthz and /metrics on a real node: levels, HTTP codes, access, and figures that match the data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.app import create_app
from edge.db import database_path
from edge.models import Incident, db_proxy
from edge.services.incidents import create_incident
from edge.services.users import get_user
from edge.timeutil import utcnow
from sync.models import SyncStatus

ROOMY = {"HEALTH_DISK_FAIL_MB": 1, "HEALTH_DISK_WARN_MB": 1}  # independent of the test machine's free space


@pytest.fixture
def client(node):
    return create_app(node.data_dir, TESTING=True, **ROOMY).test_client()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text exposition, parsed by prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def record_case(desa: str):
    operator = get_user("operator")
    return create_incident(operator, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": desa,
                                      "situation": "Kebakaran"}).incident


def test_healthz_ok_on_a_fresh_node(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok", body
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["kind"] == "sqlite"
    assert body["checks"]["disk"]["status"] == "ok"
    assert body["checks"]["sync"]["status"] == "ok"  # never enrolled: a standalone node is healthy
    assert "modem" not in body["checks"]  # no bridge here


def test_healthz_fails_when_the_disk_is_too_full(node, monkeypatch) -> None:
    monkeypatch.setenv("SIAGA112_DISK_FAIL_MB", str(10 ** 9))  # a petabyte: more than any test machine has free
    client = create_app(node.data_dir, TESTING=True).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail" and body["checks"]["disk"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_healthz_fails_when_the_database_is_unreadable(client, node) -> None:
    assert client.get("/healthz").status_code == 200
    db_proxy.obj.close()
    path = database_path(node.data_dir)
    # Root reads any file whatever its mode: garble the file and its WAL instead.
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            part.write_bytes(b"this is not a SQLite database!! " * (part.stat().st_size // 32 + 1))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["status"] == "fail"
    assert "DatabaseError" in body["checks"]["database"]["detail"]
    metrics = client.get("/metrics")  # still answers, saying the database is down
    assert metrics.status_code == 200
    assert samples(metrics.get_data(as_text=True))[("siaga112_database_up", ())] == 0


def test_healthz_degraded_when_sync_is_offline_and_radio_down(client) -> None:
    SyncStatus.insert(key="connected", value="0").on_conflict_replace().execute()
    SyncStatus.insert(key="radio", value=json.dumps({"connected": False, "waiting": 2, "tnc": "127.0.0.1:8001"})
                      ).on_conflict_replace().execute()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["sync"]["status"] == "degraded"
    assert body["checks"]["radio"] == {"status": "degraded", "detail": "TNC 127.0.0.1:8001 not connected",
                                       "connected": False, "waiting": 2, "tnc": "127.0.0.1:8001"}


def test_metrics_match_the_node(client) -> None:
    late = record_case("Senggoro")
    record_case("Pematang Duku")
    # The first case was recorded an hour ago and nobody was dispatched: its "contact" step is past its standard.
    Incident.update(recorded_at=utcnow() - timedelta(hours=1)).where(Incident.id == late.id).execute()
    SyncStatus.insert(key="connected", value="1").on_conflict_replace().execute()
    SyncStatus.insert(key="modem", value=json.dumps({"connected": True, "registered": True, "dbm": -71,
                                                     "operator": "Telkomsel"})).on_conflict_replace().execute()
    SyncStatus.insert(key="radio", value=json.dumps({"connected": True, "waiting": 3, "tnc": "/dev/siaga-tnc"})
                      ).on_conflict_replace().execute()
    for _ in range(3):
        assert client.get("/login").status_code == 200
    assert client.get("/no-such-page").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(response.get_data(as_text=True))
    assert got[("siaga112_database_up", ())] == 1
    assert got[("siaga112_open_cases", ())] == 2
    assert got[("siaga112_open_cases_breached", ())] == 1
    assert got[("siaga112_sop_breaches", (("step", "contact"),))] == 1
    assert got[("siaga112_sync_enabled", ())] == 1
    assert got[("siaga112_sync_connected", ())] == 1
    assert got[("siaga112_modem_up", ())] == 1
    assert got[("siaga112_modem_registered", ())] == 1
    assert got[("siaga112_modem_signal_dbm", ())] == -71
    assert got[("siaga112_radio_tnc_connected", ())] == 1
    assert got[("siaga112_radio_awaiting_ack", ())] == 3
    assert got[("siaga112_disk_free_bytes", ())] > 0
    login = (("endpoint", "auth.login"), ("method", "GET"))
    assert got[("siaga112_http_request_duration_seconds_count", login)] == 3
    assert got[("siaga112_http_request_duration_seconds_bucket", (*login[:1], ("le", "+Inf"), login[1]))] == 3
    assert got[("siaga112_http_requests_total", (*login, ("status", "200")))] == 3
    assert got[("siaga112_http_requests_total", (("endpoint", "unmatched"), ("method", "GET"), ("status", "404")))] == 1


def test_metrics_without_bridge_have_no_device_samples(client) -> None:
    got = samples(client.get("/metrics").get_data(as_text=True))
    assert got[("siaga112_open_cases", ())] == 0
    assert not [k for k in got if k[0].startswith(("siaga112_modem", "siaga112_radio"))]


def test_metrics_only_for_loopback_or_token(client, node) -> None:
    remote = {"REMOTE_ADDR": "10.20.0.7"}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.0.7"}).status_code == 403
    (node.data_dir / "metrics_token").write_text("s3cret-scrape-token\n")
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert ok.status_code == 200 and b"siaga112_open_cases" in ok.data
    assert client.get("/healthz", environ_base=remote).status_code == 200  # health is for everyone


WORKER = """
import sys
from edge.app import create_app

client = create_app(sys.argv[1], TESTING=True).test_client()
for _ in range(int(sys.argv[2])):
    assert client.get("/login").status_code == 200
if sys.argv[3] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_metrics_sum_over_gunicorn_workers(node, tmp_path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR each worker process writes its counts there and any worker's
    scrape reports the sum: two workers answer 2 and 3 requests, a third scrapes 5."""
    import os
    import subprocess
    import sys

    db_proxy.obj.close()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    for count in (2, 3):
        subprocess.run([sys.executable, "-c", WORKER, str(node.data_dir), str(count), "-"], env=env, check=True,
                       timeout=60)
    scrape = subprocess.run([sys.executable, "-c", WORKER, str(node.data_dir), "0", "scrape"], env=env, check=True,
                            capture_output=True, text=True, timeout=60).stdout
    got = samples(scrape)
    login = (("endpoint", "auth.login"), ("method", "GET"))
    assert got[("siaga112_http_requests_total", (*login, ("status", "200")))] == 5
    assert got[("siaga112_http_request_duration_seconds_count", login)] == 5
    assert got[("siaga112_open_cases", ())] == 0  # the node's own figures are there too
