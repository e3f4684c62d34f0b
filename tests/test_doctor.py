"""`siaga112 doctor` on real nodes: an enrolled posko with a real Mosquitto (the sync tests'
`pki` and `broker` fixtures), then each thing broken in turn."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from edge.db import database_path
from edge.models import db_proxy
from edge.services.backup import create_backup
from edge.services.doctor import Status, check_clock, check_modem, check_radio, run_checks
from edge.services.incidents import create_incident
from edge.services.node import init_node, open_node
from edge.services.users import create_user
from sync.pki import install_bundle, load_bundle
from tests.sync.conftest import Broker, Pki, broker, pki  # noqa: F401 - fixtures reused, not duplicated

SIAGA = [sys.executable, "-m", "edge.cli"]


def doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([*SIAGA, "doctor", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def by_name(results) -> dict[str, Status]:
    return {r.name: r.status for r in results}


@pytest.fixture
def posko(tmp_path: Path, pki: Pki, broker: Broker) -> Path:  # noqa: F811 - pytest fixtures by name
    """posko-a initialised and enrolled with its bundle, pointed at the running broker, with one backup."""
    data = tmp_path / "posko-a"
    result = init_node(data, "posko-a", "posko", "bengkalis")
    install_bundle(load_bundle(pki.bundle("posko-a")), data / "sync")
    config = json.loads((data / "sync" / "sync.json").read_text())
    config["broker"] = {"host": broker.host, "port": broker.port}
    (data / "sync" / "sync.json").write_text(json.dumps(config))
    result.db.close()
    create_backup(data)
    yield data
    db_proxy.initialize(None)


def write_cert(pki_dir: Path, node_dir: Path, not_before: dt.datetime, not_after: dt.datetime) -> None:
    """Replace the node's TLS certificate with one for the same key, signed by the CA, with this validity."""
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    node_key = serialization.load_pem_private_key((node_dir / "sync" / "node.key").read_bytes(), password=None)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "posko-a")]))
            .issuer_name(ca_cert.subject).public_key(node_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (node_dir / "sync" / "node.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_healthy_enrolled_node(posko: Path) -> None:
    results = run_checks(posko)
    status = by_name(results)
    assert status["broker"] == Status.OK, results
    assert status["node cert"] == Status.OK and status["CA cert"] == Status.OK
    for name in ("disk", "modem", "radio", "database", "wal", "audit", "backup"):
        assert status[name] == Status.OK, (name, results)
    assert status["clock"] in (Status.OK, Status.WARN)  # WARN where timedatectl cannot answer (no systemd)
    cli = doctor("--data-dir", str(posko))
    worst = max((r.status for r in results), key=lambda s: s.exit_code)
    assert cli.returncode == worst.exit_code, cli.stdout + cli.stderr
    assert "OK    broker" in cli.stdout and "TLS handshake ok" in cli.stdout


def test_broker_down_fails_with_a_fix(posko: Path, broker: Broker) -> None:  # noqa: F811
    broker.stop()
    cli = doctor("--data-dir", str(posko))
    assert cli.returncode == 2
    assert "FAIL  broker" in cli.stdout and "cannot connect" in cli.stdout
    assert "fix: check the network link" in cli.stdout


def test_expired_and_expiring_certificates(posko: Path, pki: Pki) -> None:  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    write_cert(pki.dir, posko, now - dt.timedelta(days=400), now - dt.timedelta(days=1))
    results = {r.name: r for r in run_checks(posko)}
    assert results["node cert"].status == Status.FAIL and "expired" in results["node cert"].detail
    assert "siaga112 pki issue" in results["node cert"].fix
    assert results["broker"].status == Status.FAIL  # the broker refuses an expired certificate too
    write_cert(pki.dir, posko, now - dt.timedelta(days=300), now + dt.timedelta(days=10))
    results = {r.name: r for r in run_checks(posko)}
    assert results["node cert"].status == Status.WARN and "expires in" in results["node cert"].detail
    assert results["broker"].status == Status.OK


def test_database_damage_and_audit_tampering(posko: Path) -> None:
    db = open_node(posko)
    with db.connection_context():
        operator = create_user("operator", "call_taker", "password-1234")
        create_incident(operator, {"incident_type": 3, "desa": "Senggoro", "situation": "Kebakaran"})
    assert by_name(run_checks(posko))["audit"] == Status.OK
    con = sqlite3.connect(database_path(posko))
    con.execute("DROP TRIGGER event_no_update")
    con.execute("UPDATE event SET actor = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    status = by_name(run_checks(posko))
    assert status["audit"] == Status.FAIL and status["database"] == Status.OK
    # Damage the file itself: a page in the middle overwritten.
    path = database_path(posko)
    with path.open("r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(b"\xff" * 4096)
    results = {r.name: r for r in run_checks(posko)}
    assert results["database"].status == Status.FAIL
    assert "siaga112 restore" in results["database"].fix


def test_disk_threshold(posko: Path) -> None:
    cli = doctor("--data-dir", str(posko), env={"SIAGA112_DISK_FAIL_MB": str(10 ** 9)})
    assert cli.returncode == 2 and "FAIL  disk" in cli.stdout


def test_modem_and_radio_checks(tmp_path: Path) -> None:
    missing = str(tmp_path / "siaga-modem")
    assert check_modem(None, None).status == Status.OK
    assert check_modem(None, missing).status == Status.FAIL  # configured port does not exist
    port = tmp_path / "ttyUSB0"
    port.touch()
    assert check_modem(None, str(port)).status == Status.WARN  # no bridge state yet
    state = {"connected": True, "sim_ready": True, "registered": False, "reg_stat": 2, "dbm": -90}
    assert check_modem(state, str(port)).status == Status.WARN
    assert check_modem({**state, "registered": True, "dbm": -111}, None).status == Status.WARN
    assert check_modem({**state, "registered": True}, None).status == Status.OK
    assert check_modem({**state, "connected": False}, None).status == Status.FAIL
    assert check_radio({"connected": True, "waiting": 0, "tnc": "127.0.0.1:8001"}, "127.0.0.1:8001").status == \
        Status.OK
    assert check_radio({"connected": True, "waiting": 2}, None).status == Status.WARN
    assert check_radio({"connected": False, "waiting": 0}, None).status == Status.FAIL
    assert check_radio(None, f"{tmp_path}/siaga-tnc@9600").status == Status.FAIL


def test_clock_check_never_fails_without_timedatectl() -> None:
    assert check_clock(None).status == Status.WARN
    assert check_clock("yes").status == Status.OK
    assert check_clock("no").status == Status.WARN
    assert check_clock("yes", dt.timedelta(hours=2)).status == Status.WARN


def test_not_a_node(tmp_path: Path) -> None:
    cli = doctor("--data-dir", str(tmp_path / "nothing"))
    assert cli.returncode == 2 and "FAIL  node" in cli.stdout


def test_doctor_reads_the_node_config(posko: Path, tmp_path: Path) -> None:
    """--config: [bridge] modem is checked to exist and [sync] broker_port beats the bundle's broker."""
    from sync.localnet import free_port

    config = tmp_path / "siaga112.toml"
    config.write_text(f'[node]\nid = "posko-a"\nrole = "posko"\ndata_dir = "{posko}"\n\n'
                      f'[sync]\nbroker_port = {free_port()}\n\n'
                      f'[bridge]\nmodem = "/dev/siaga-modem-not-plugged"\n\n'
                      f'[backup]\ndir = "{posko / "backups"}"\n')
    cli = doctor("--config", str(config))
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "FAIL  modem" in cli.stdout and "/dev/siaga-modem-not-plugged does not exist" in cli.stdout
    assert "FAIL  broker" in cli.stdout and "cannot connect" in cli.stdout
    assert "OK    backup" in cli.stdout
