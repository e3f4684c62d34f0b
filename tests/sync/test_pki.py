"""The regency PKI: CA, node issuance, revocation/CRL, directory, bundles, and the `pki` CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync import pki as pki_lib
from sync.cli import pki as pki_group
from sync.pki import AlreadyRevoked, BadBundle, NodeExists, PkiError, UnknownNode

from .conftest import NODES, Pki

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def ca_cert(pki_dir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())


def crl(pki_dir: Path) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((pki_dir / "crl.pem").read_bytes())


def registry(pki_dir: Path) -> dict:
    return json.loads((pki_dir / "registry.json").read_text())


# --- CA --------------------------------------------------------------------------------


def test_init_creates_a_p256_ca_an_empty_registry_and_an_empty_signed_crl(tmp_path):
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "Diskominfotik Bengkalis")
    assert mode(pki_dir / "ca.key") == 0o600 and mode(pki_dir) == 0o700
    ca = ca_cert(pki_dir)
    key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert ca.public_key() == key.public_key()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert 3640 <= (ca.not_valid_after_utc - ca.not_valid_before_utc).days <= 3660
    assert "Diskominfotik Bengkalis" in ca.subject.rfc4514_string()
    assert registry(pki_dir) == {}
    empty = crl(pki_dir)
    assert len(empty) == 0 and empty.is_signature_valid(ca.public_key())


def test_init_refuses_to_overwrite_an_existing_ca(tmp_path):
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "Diskominfotik Bengkalis")
    before = (pki_dir / "ca.key").read_bytes()
    with pytest.raises(PkiError, match="refusing to overwrite"):
        pki_lib.init_ca(pki_dir, "Someone else")
    assert (pki_dir / "ca.key").read_bytes() == before


def test_server_certificate_names_hosts_and_ip(pki: Pki):
    crt, key = pki_lib.issue_server_cert(pki.dir, ["broker.bengkalis.local", "127.0.0.1"])
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.bengkalis.local"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    cert.verify_directly_issued_by(ca_cert(pki.dir))
    assert mode(key) == 0o600


# --- issuing ---------------------------------------------------------------------------


def test_issue_registers_each_node_with_its_certificate_and_keys(pki: Pki):
    reg = registry(pki.dir)
    assert set(reg) == {n for n, *_ in NODES}
    assert reg["damkar-1"]["role"] == "agency" and reg["damkar-1"]["agency"] == "DAMKAR"
    assert reg["posko-a"]["areas"] == ["Bengkalis"] and reg["posko-a"]["revoked"] is False
    dt.datetime.fromisoformat(reg["posko-a"]["issued_at"])
    for node_id, *_ in NODES:
        bundle = json.loads(pki.bundle(node_id).read_text())
        assert mode(pki.bundle(node_id)) == 0o600
        cert = x509.load_pem_x509_certificate(bundle["node_crt"].encode())
        cert.verify_directly_issued_by(ca_cert(pki.dir))
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == node_id
        assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage).value
        assert 725 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 735
        assert format(cert.serial_number, "x") == reg[node_id]["cert_serial"]
        assert len(base64.b64decode(reg[node_id]["sign_pub"])) == 32


def test_bundles_carry_the_central_and_the_right_directory(pki: Pki):
    posko = pki_lib.load_bundle(pki.bundle("posko-a"))
    assert posko["format"] == "siaga112-bundle/1" and posko["central"] == "central"
    assert posko["broker"] == {"host": "127.0.0.1", "port": 8883}
    assert set(posko["directory"]) == {"posko-a", "central"}
    reg = registry(pki.dir)
    assert posko["directory"]["central"] == {k: reg["central"][k] for k in
                                             ("role", "agency", "areas", "sign_pub", "enc_pub", "revoked")}
    # The central was issued first: its bundle knows only itself; the full directory knows all.
    central = pki_lib.load_bundle(pki.bundle("central"))
    assert central["central"] == "central" and set(central["directory"]) == {"central"}
    assert set(pki_lib.directory(pki.dir)) == set(reg)
    pki_lib.issue_node(pki.dir, "posko-c", "posko", broker_host="sync.bengkalis.local", broker_port=18883)
    later = pki_lib.load_bundle(pki.bundle("posko-c"))
    assert later["broker"] == {"host": "sync.bengkalis.local", "port": 18883}


def test_a_central_issued_last_gets_every_node_in_its_directory(tmp_path):
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "X")
    pki_lib.issue_node(pki_dir, "pusat", "central")
    pki_lib.issue_node(pki_dir, "posko-a", "posko")
    pki_lib.revoke_node(pki_dir, "pusat")
    path = pki_lib.issue_node(pki_dir, "pusat-2", "central")
    bundle = pki_lib.load_bundle(path)
    assert set(bundle["directory"]) == {"pusat", "posko-a", "pusat-2"}
    assert bundle["directory"]["pusat"]["revoked"] is True
    assert pki_lib.load_bundle(pki_lib.issue_node(pki_dir, "posko-b", "posko"))["central"] == "pusat-2"


def test_duplicate_node_is_refused_even_after_revocation(pki: Pki):
    with pytest.raises(NodeExists):
        pki_lib.issue_node(pki.dir, "posko-a", "posko")
    pki_lib.revoke_node(pki.dir, "posko-a")
    with pytest.raises(NodeExists, match="revoked"):
        pki_lib.issue_node(pki.dir, "posko-a", "posko")


def test_agency_role_needs_an_agency_code_and_only_it_has_one(pki: Pki):
    with pytest.raises(PkiError, match="agency code"):
        pki_lib.issue_node(pki.dir, "polres-1", "agency")
    with pytest.raises(PkiError, match="only agency nodes"):
        pki_lib.issue_node(pki.dir, "posko-z", "posko", agency="DAMKAR")
    assert "polres-1" not in registry(pki.dir) and not (pki.dir / "polres-1").exists()


@pytest.mark.parametrize("node_id", ["a", "Posko-A", "posko_a", "posko/a", "posko+", "x" * 33, "server", ""])
def test_invalid_node_ids_are_refused(pki: Pki, node_id):
    with pytest.raises(PkiError):
        pki_lib.issue_node(pki.dir, node_id, "posko")


def test_invalid_role_and_missing_or_second_central_are_refused(tmp_path):
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "X")
    with pytest.raises(PkiError, match="central node first"):
        pki_lib.issue_node(pki_dir, "posko-a", "posko")
    pki_lib.issue_node(pki_dir, "pusat", "central")
    with pytest.raises(PkiError, match="already has a central"):
        pki_lib.issue_node(pki_dir, "pusat-2", "central")
    with pytest.raises(PkiError, match="invalid role"):
        pki_lib.issue_node(pki_dir, "posko-a", "kapolsek")
    with pytest.raises(PkiError, match="not an active central"):
        pki_lib.issue_node(pki_dir, "posko-a", "posko", central="posko-z")


def test_operations_without_a_ca_say_so(tmp_path):
    with pytest.raises(PkiError, match="pki init"):
        pki_lib.issue_node(tmp_path / "none", "posko-a", "posko")
    with pytest.raises(PkiError, match="pki init"):
        pki_lib.revoke_node(tmp_path / "none", "posko-a")


# --- revocation, CRL, directory ----------------------------------------------------------


def test_revoke_updates_registry_directory_and_crl(pki: Pki):
    ca = ca_cert(pki.dir)
    number = crl(pki.dir).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    pki_lib.revoke_node(pki.dir, "posko-b")
    reg = registry(pki.dir)
    assert reg["posko-b"]["revoked"] is True and reg["posko-a"]["revoked"] is False
    assert pki_lib.directory(pki.dir)["posko-b"]["revoked"] is True
    first = crl(pki.dir)
    assert first.is_signature_valid(ca.public_key())
    assert first.get_revoked_certificate_by_serial_number(int(reg["posko-b"]["cert_serial"], 16)) is not None
    assert first.get_revoked_certificate_by_serial_number(int(reg["posko-a"]["cert_serial"], 16)) is None
    assert first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number + 1
    next_update = first.next_update_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=29) < next_update <= dt.timedelta(days=30)

    pki_lib.revoke_node(pki.dir, "damkar-1")
    serials = {r.serial_number for r in crl(pki.dir)}
    assert serials == {int(reg[n]["cert_serial"], 16) for n in ("posko-b", "damkar-1")}
    with pytest.raises(AlreadyRevoked):
        pki_lib.revoke_node(pki.dir, "posko-b")
    with pytest.raises(UnknownNode):
        pki_lib.revoke_node(pki.dir, "posko-z")


def test_refresh_crl_keeps_revocations_and_moves_next_update(pki: Pki):
    pki_lib.revoke_node(pki.dir, "posko-b")
    before = crl(pki.dir)
    pki_lib.refresh_crl(pki.dir)
    after = crl(pki.dir)
    assert {r.serial_number for r in after} == {r.serial_number for r in before}
    assert after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > \
        before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_write_directory_replaces_the_file_atomically(pki: Pki, tmp_path):
    out = tmp_path / "central-sync" / "directory.json"
    pki_lib.write_directory(pki.dir, out)
    assert json.loads(out.read_text()) == pki_lib.directory(pki.dir)
    pki_lib.revoke_node(pki.dir, "posko-a")
    pki_lib.write_directory(pki.dir, out)
    assert pki_lib.load_directory(out)["posko-a"]["revoked"] is True
    assert sorted(p.name for p in out.parent.iterdir()) == ["directory.json"]  # no temp files left


# --- bundles on the node -----------------------------------------------------------------


def test_install_bundle_writes_files_with_modes_and_keys_match_registry(pki: Pki, tmp_path):
    sync_dir = tmp_path / "node" / "sync"
    pki_lib.install_bundle(pki_lib.load_bundle(pki.bundle("damkar-1")), sync_dir)
    assert mode(sync_dir) == 0o700
    for name in ("node.key", "sign.key", "enc.key"):
        assert mode(sync_dir / name) == 0o600, name
    for name in ("ca.crt", "node.crt", "directory.json", "sync.json"):
        assert (sync_dir / name).exists(), name
    config = json.loads((sync_dir / "sync.json").read_text())
    assert config == {"node_id": "damkar-1", "role": "agency", "agency": "DAMKAR", "areas": ["Bengkalis", "Bantan"],
                      "central": "central", "broker": {"host": "127.0.0.1", "port": 8883}}
    sign, enc = pki_lib.load_node_keys(sync_dir)
    entry = registry(pki.dir)["damkar-1"]
    assert base64.b64encode(sign.public_key().public_bytes(*RAW)).decode() == entry["sign_pub"]
    assert base64.b64encode(enc.public_key().public_bytes(*RAW)).decode() == entry["enc_pub"]
    node_key = serialization.load_pem_private_key((sync_dir / "node.key").read_bytes(), None)
    assert node_key.public_key() == x509.load_pem_x509_certificate((sync_dir / "node.crt").read_bytes()).public_key()
    assert set(pki_lib.load_directory(sync_dir / "directory.json")) == {"damkar-1", "central"}


def test_install_refuses_a_folder_that_belongs_to_another_node(pki: Pki, tmp_path):
    sync_dir = tmp_path / "sync"
    pki_lib.install_bundle(pki_lib.load_bundle(pki.bundle("posko-a")), sync_dir)
    pki_lib.install_bundle(pki_lib.load_bundle(pki.bundle("posko-a")), sync_dir)  # reinstall is fine
    with pytest.raises(PkiError, match="already belongs to node 'posko-a'"):
        pki_lib.install_bundle(pki_lib.load_bundle(pki.bundle("posko-b")), sync_dir)


def _tamper(pki: Pki, tmp_path: Path, how: str) -> Path:
    path = tmp_path / "bad.json"
    text = pki.bundle("posko-a").read_text()
    bundle, other = json.loads(text), json.loads(pki.bundle("posko-b").read_text())
    if how == "not json":
        path.write_text("this is not json")
        return path
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
        return path
    if how == "wrong format":
        bundle["format"] = "siaga112-bundle/0"
    elif how == "missing field":
        del bundle["enc_key"]
    elif how == "keys of another node":
        bundle["sign_key"] = other["sign_key"]
    elif how == "tls key of another node":
        bundle["node_key"] = other["node_key"]
    elif how == "certificate of another node":
        bundle["node_crt"] = other["node_crt"]
    elif how == "another CA":
        bundle["ca_crt"] = _foreign_ca(tmp_path)
    elif how == "garbage key":
        bundle["enc_key"] = "!!!"
    path.write_text(json.dumps(bundle))
    return path


def _foreign_ca(tmp_path: Path) -> str:
    pki_lib.init_ca(tmp_path / "foreign", "Elsewhere")
    return (tmp_path / "foreign" / "ca.crt").read_text()


@pytest.mark.parametrize("how", ["not json", "truncated", "wrong format", "missing field", "keys of another node",
                                 "tls key of another node", "certificate of another node", "another CA",
                                 "garbage key"])
def test_bad_or_corrupt_bundle_is_refused(pki: Pki, tmp_path, how):
    path = _tamper(pki, tmp_path, how)
    with pytest.raises(BadBundle) as info:
        pki_lib.load_bundle(path)
    assert isinstance(info.value, PkiError) and str(info.value)
    sync_dir = tmp_path / "sync"
    if how not in ("not json", "truncated"):
        with pytest.raises(BadBundle):
            pki_lib.install_bundle(json.loads(path.read_text()), sync_dir)
    assert not sync_dir.exists()


def test_missing_bundle_and_missing_keys_raise_pki_errors(tmp_path):
    with pytest.raises(BadBundle, match="no bundle"):
        pki_lib.load_bundle(tmp_path / "nope.json")
    with pytest.raises(PkiError, match="install the node's bundle"):
        pki_lib.load_node_keys(tmp_path)
    (tmp_path / "directory.json").write_text("[1, 2]")
    with pytest.raises(PkiError, match="corrupt"):
        pki_lib.load_directory(tmp_path / "directory.json")


# --- CLI -------------------------------------------------------------------------------------

SIAGA = [sys.executable, "-m", "edge.cli", "pki"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SIAGA, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_cli_end_to_end(tmp_path):
    d = str(tmp_path / "pki")
    assert run("init", "--dir", d, "--name", "Diskominfotik Bengkalis").returncode == 0
    again = run("init", "--dir", d, "--name", "X")
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "overwrite" in again.stderr

    issued = run("issue", "central", "--dir", d, "--role", "central")
    assert issued.returncode == 0, issued.stderr
    assert Path(issued.stdout.strip()) == tmp_path / "pki" / "central" / "bundle.json"
    # --dir from the environment
    env = {"SIAGA112_PKI_DIR": d}
    issued = run("issue", "damkar-1", "--role", "agency", "--agency", "DAMKAR", "--area", "Bengkalis",
                 "--area", "Bantan", "--broker-host", "10.0.0.5", "--broker-port", "18883", env=env)
    assert issued.returncode == 0, issued.stderr
    bundle = pki_lib.load_bundle(Path(issued.stdout.strip()))
    assert bundle["areas"] == ["Bengkalis", "Bantan"] and bundle["broker"] == {"host": "10.0.0.5", "port": 18883}
    no_agency = run("issue", "polres-1", "--role", "agency", env=env)
    assert no_agency.returncode == 2 and "error: " in no_agency.stderr and "agency code" in no_agency.stderr

    assert run("revoke", "damkar-1", env=env).returncode == 0
    twice = run("revoke", "damkar-1", env=env)
    assert twice.returncode == 2 and "already revoked" in twice.stderr
    listing = run("list", env=env).stdout.splitlines()
    assert listing[0].split() == ["NODE", "ROLE", "AGENCY", "REVOKED"]
    assert [line.split() for line in listing[1:]] == [["central", "central", "-", "no"],
                                                      ["damkar-1", "agency", "DAMKAR", "yes"]]

    out = tmp_path / "dir.json"
    assert run("directory", "--out", str(out), env=env).returncode == 0
    assert pki_lib.load_directory(out)["damkar-1"]["revoked"] is True
    conf = run("broker-config", "--out", str(tmp_path / "broker"), "--port", "18883", "--bind", "0.0.0.0", env=env)
    assert conf.returncode == 0, conf.stderr
    assert "listener 18883 0.0.0.0" in Path(conf.stdout.strip()).read_text()
    assert run("refresh-crl", env=env).returncode == 0


def test_cli_without_dir_is_a_usage_error(tmp_path):
    result = run("list", env={"SIAGA112_PKI_DIR": ""})
    assert result.returncode == 2 and "--dir" in result.stderr


@pytest.mark.parametrize("command", sorted(pki_group.commands))
def test_every_pki_command_has_help(command):
    result = CliRunner().invoke(pki_group, [command, "--help"])
    assert result.exit_code == 0 and "--dir" in result.output
