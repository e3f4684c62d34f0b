"""Node enrolment and revocation from central's UI, on the regency PKI (sync.pki) in the node's data dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from edge.models import Event
from edge.services.users import get_user, set_password
from sync import broker as broker_lib
from sync import pki as pki_lib

ADMIN_PASSWORD = "admin-password-99"


@pytest.fixture
def pki(node, monkeypatch) -> Path:
    """The regency CA in <central data dir>/pki with the central issued and installed, and a broker folder."""
    monkeypatch.delenv("SIAGA112_PKI_DIR", raising=False)
    monkeypatch.delenv("SIAGA112_BROKER_DIR", raising=False)
    pki_dir = node.data_dir / "pki"
    pki_lib.init_ca(pki_dir, "Diskominfotik Bengkalis")
    pki_lib.issue_node(pki_dir, "central", "central", broker_host="10.20.0.2", broker_port=8883)
    pki_lib.install_bundle(pki_lib.load_bundle(pki_dir / "central" / "bundle.json"), node.data_dir / "sync")
    broker_lib.mosquitto_conf(pki_dir, node.data_dir / "broker", 8883)
    return pki_dir


@pytest.fixture
def admin(node, login):
    set_password(get_user("admin"), ADMIN_PASSWORD)
    return login("admin", ADMIN_PASSWORD)


def enrol(admin, **form):
    data = {"node_id": "posko-bantan", "role": "posko", "areas": "Bantan, Bengkalis", "broker_host": "",
            "broker_port": ""}
    data.update(form)
    admin.get("/pusat/node/")
    return admin.post("/pusat/node/", data)


def test_index_lists_the_registry_with_expiry_and_contact(pki, admin):
    html = admin.get("/pusat/node/").get_data(as_text=True)
    row = html.split('data-node="central"')[1].split("</tr>")[0]
    assert 'data-revoked="0"' in row and "belum pernah" in row
    cert = x509.load_pem_x509_certificate(json.loads((pki / "central" / "bundle.json").read_text())["node_crt"]
                                          .encode())
    assert str(cert.not_valid_after_utc.year) in row
    assert 'value="10.20.0.2"' in html  # broker default: the central's own broker


def test_enrol_makes_a_bundle_that_init_accepts(pki, admin, node, tmp_path):
    response = enrol(admin)
    assert response.status_code == 302 and response.headers["Location"].endswith("/pusat/node/?baru=posko-bantan")
    page = admin.get("/pusat/node/?baru=posko-bantan").get_data(as_text=True)
    assert 'id="bundle-ready"' in page and 'data-node="posko-bantan"' in page
    entry = pki_lib.load_registry(pki)["posko-bantan"]
    assert entry["role"] == "posko" and entry["areas"] == ["Bantan", "Bengkalis"]
    download = admin.post("/pusat/node/posko-bantan/bundel")
    assert download.status_code == 200
    assert 'filename="posko-bantan-bundle.json"' in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    bundle_file = tmp_path / "posko-bantan-bundle.json"
    bundle_file.write_bytes(download.data)
    assert pki_lib.load_bundle(bundle_file)["broker"] == {"host": "10.20.0.2", "port": 8883}
    # The central's directory was refreshed, so its sync daemon knows the new node at once.
    assert "posko-bantan" in json.loads((node.data_dir / "sync" / "directory.json").read_text())
    # What `siaga112 init --bundle` does on the new node's machine:
    result = subprocess.run([sys.executable, "-m", "edge.cli", "init", "--bundle", str(bundle_file), "--data-dir",
                             str(tmp_path / "posko-bantan")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Enrolled: broker 10.20.0.2:8883, central central" in result.stdout
    config = json.loads((tmp_path / "posko-bantan" / "sync" / "sync.json").read_text())
    assert config["node_id"] == "posko-bantan" and config["central"] == "central"
    kinds = [(e.kind, json.loads(e.detail).get("node_id"), e.actor) for e in Event.select().order_by(Event.seq)]
    assert ("node.enrol", "posko-bantan", "admin") in kinds
    assert ("node.bundle_download", "posko-bantan", "admin") in kinds


def test_enrol_validates_and_reports_pki_refusals(pki, admin):
    response = enrol(admin, role="agency", agency="")
    assert response.status_code == 422 and "Node instansi memerlukan kode instansi" in response.get_data(as_text=True)
    assert enrol(admin, node_id="damkar-1", role="agency", agency="DAMKAR").status_code == 302
    assert pki_lib.load_registry(pki)["damkar-1"]["agency"] == "DAMKAR"
    again = enrol(admin, node_id="damkar-1", role="agency", agency="DAMKAR")
    assert again.status_code == 409 and "already issued" in again.get_data(as_text=True)
    assert enrol(admin, node_id="Bad Id!").status_code == 409
    assert enrol(admin, node_id="posko-x", broker_port="70000").status_code == 422
    assert not Event.select().where(Event.kind == "node.enrol", Event.detail.contains("posko-x")).exists()


def test_revoke_needs_confirmation_then_updates_crl_acl_directory_and_audit(pki, admin, node):
    enrol(admin)
    serial = int(pki_lib.load_registry(pki)["posko-bantan"]["cert_serial"], 16)
    form = admin.get("/pusat/node/posko-bantan/cabut")
    assert form.status_code == 200 and 'id="revoke-node"' in form.get_data(as_text=True)
    refused = admin.post("/pusat/node/posko-bantan/cabut", {"confirm": "posko-lain"})
    assert refused.status_code == 302 and not pki_lib.load_registry(pki)["posko-bantan"]["revoked"]
    done = admin.post("/pusat/node/posko-bantan/cabut", {"confirm": "posko-bantan"})
    assert done.status_code == 302 and pki_lib.load_registry(pki)["posko-bantan"]["revoked"]
    for crl_path in (pki / "crl.pem", node.data_dir / "broker" / "tls" / "crl.pem"):
        crl = x509.load_pem_x509_crl(crl_path.read_bytes())
        assert crl.get_revoked_certificate_by_serial_number(serial) is not None, crl_path
    assert "posko-bantan" in (node.data_dir / "broker" / "acl").read_text()
    assert json.loads((node.data_dir / "sync" / "directory.json").read_text())["posko-bantan"]["revoked"] is True
    html = admin.get("/pusat/node/").get_data(as_text=True)
    assert 'data-node="posko-bantan" data-revoked="1"' in html
    assert admin.post("/pusat/node/posko-bantan/bundel").status_code == 302  # no bundle for a revoked node
    central = admin.post("/pusat/node/central/cabut", {"confirm": "central"})  # cuts every node off: CLI only
    assert central.status_code == 302 and not pki_lib.load_registry(pki)["central"]["revoked"]
    revokes = Event.select().where(Event.kind == "node.revoke")
    assert [(e.actor, json.loads(e.detail)["node_id"]) for e in revokes] == [("admin", "posko-bantan")]


def test_only_admin_may_manage_nodes(pki, login):
    for username in ("pusat", "supervisor", "operator"):
        client = login(username)
        assert client.get("/pusat/node/").status_code == 403
        assert client.post("/pusat/node/", {"node_id": "posko-z", "role": "posko"}).status_code == 403
        assert client.post("/pusat/node/central/cabut", {"confirm": "central"}).status_code == 403
    assert "posko-z" not in pki_lib.load_registry(pki) and not pki_lib.load_registry(pki)["central"]["revoked"]


def test_page_explains_when_this_node_holds_no_pki(node, admin, monkeypatch):
    monkeypatch.delenv("SIAGA112_PKI_DIR", raising=False)
    html = admin.get("/pusat/node/").get_data(as_text=True)
    assert 'id="pki-missing"' in html and "siaga112 pki init" in html
    assert enrol(admin).status_code == 503
