"""The generated Mosquitto configuration, exercised against a real Mosquitto 2.0 with real certificates."""

from __future__ import annotations

import datetime as dt
import socket
import stat
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from sync import pki as pki_lib
from sync.broker import acl_text, mosquitto_conf
from sync.pki import PkiError

from .conftest import Broker, ConnectRefused, Pki, mqtt_client

NOT_AUTHORIZED = 0x87
QUIET = 1.0  # how long "nothing arrives" is watched


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settings(conf_text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in conf_text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key, []).append(value)
    return out


# --- the generated files -----------------------------------------------------------------


def test_conf_holds_every_setting_each_explained_by_a_comment(pki: Pki, tmp_path):
    conf = mosquitto_conf(pki.dir, tmp_path / "b", 8883, bind="192.168.1.10")
    text = conf.read_text()
    s = settings(text)
    expected = {
        "per_listener_settings": ["false"], "listener": ["8883 192.168.1.10"],
        "cafile": [str(tmp_path / "b" / "tls" / "ca.crt")], "require_certificate": ["true"],
        "use_identity_as_username": ["true"], "tls_version": ["tlsv1.2"],
        "crlfile": [str(tmp_path / "b" / "tls" / "crl.pem")],
        "acl_file": [str(tmp_path / "b" / "acl")], "allow_anonymous": ["false"], "persistence": ["true"],
        "persistence_location": [f"{tmp_path / 'b' / 'data'}/"], "autosave_interval": ["10"],
        "max_queued_messages": ["100000"], "max_queued_bytes": ["0"], "max_inflight_messages": ["100"],
        "log_dest": ["stdout"], "log_type": ["error", "warning", "notice"], "connection_messages": ["true"],
        "pid_file": [str(tmp_path / "b" / "mosquitto.pid")],
        "certfile": [str(tmp_path / "b" / "tls" / "server.crt")],
        "keyfile": [str(tmp_path / "b" / "tls" / "server.key")],
    }
    assert s == expected
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            previous = lines[i - 1]
            same_key = previous.split(" ")[0] == line.split(" ")[0]  # log_type repeated under one comment
            assert previous.startswith("#") or same_key, f"setting without an explaining comment: {line}"
    # TLS settings belong to the listener: they must come after it.
    assert lines.index("listener 8883 192.168.1.10") < min(
        i for i, line in enumerate(lines) if line.startswith(("cafile", "certfile", "crlfile", "require_cert")))
    # The missing broker certificate was issued for localhost, 127.0.0.1 and the bind address.
    cert = x509.load_pem_x509_certificate((pki.dir / "server" / "server.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "192.168.1.10"]
    # tls/ holds copies, so the broker never reads the CA's folder (which holds ca.key).
    tls = tmp_path / "b" / "tls"
    assert (tls / "crl.pem").read_bytes() == (pki.dir / "crl.pem").read_bytes()
    assert (tls / "ca.crt").read_bytes() == (pki.dir / "ca.crt").read_bytes()
    assert mode(tls / "server.key") == 0o600 and not (tls / "ca.key").exists()
    # user: only when asked
    assert "user" not in s
    assert settings(mosquitto_conf(pki.dir, tmp_path / "b", 8883, user="mqtt").read_text())["user"] == ["mqtt"]


def test_existing_broker_certificate_is_kept(pki: Pki, tmp_path):
    crt, _key = pki_lib.issue_server_cert(pki.dir, ["sync.bengkalis.local"])
    before = crt.read_bytes()
    mosquitto_conf(pki.dir, tmp_path / "b", 8883)
    assert crt.read_bytes() == before


def test_acl_confines_nodes_and_lists_revoked_ones(pki: Pki):
    pki_lib.revoke_node(pki.dir, "posko-b")
    text = acl_text(pki_lib.load_registry(pki.dir))
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == ["pattern write siaga112/%u/#", "pattern read siaga112/+/to/%u", "pattern read siaga112/+/state"]
    assert "#   revoked: posko-b" in text and "posko-a" not in text


def test_conf_refuses_bad_input(pki: Pki, tmp_path):
    with pytest.raises(PkiError, match="invalid port"):
        mosquitto_conf(pki.dir, tmp_path / "b", 0)
    with pytest.raises(PkiError, match="bind address"):
        mosquitto_conf(pki.dir, tmp_path / "b", 8883, bind="everywhere")
    with pytest.raises(PkiError, match="pki init"):
        mosquitto_conf(tmp_path / "no-pki", tmp_path / "b", 8883)


# --- a real broker: who gets in -------------------------------------------------------------


def test_broker_restarts_fast_and_its_log_is_live(pki: Pki, broker: Broker, clients):
    started = time.monotonic()
    broker.restart()
    assert time.monotonic() - started < 1.0, broker.log()
    clients.append(mqtt_client(pki, "damkar-1", broker, client_id="log-probe"))
    assert "as log-probe (p5, c1, k30, u'damkar-1')" in broker.log(), broker.log()


def test_node_publishes_to_central_and_central_receives_it(pki: Pki, broker: Broker, clients):
    central = mqtt_client(pki, "central", broker)
    clients.append(central)
    granted = central.subscribe_wait("siaga112/+/to/central")
    assert [rc.value for rc in granted] == [1], broker.log()
    posko = mqtt_client(pki, "posko-a", broker)
    clients.append(posko)
    assert posko.publish_wait("siaga112/posko-a/to/central", b"envelope-1").value == 0, broker.log()
    msg = central.next_message()
    assert msg is not None, f"central received nothing\n{broker.log()}"
    assert (msg.topic, msg.payload) == ("siaga112/posko-a/to/central", b"envelope-1")
    assert "u'posko-a'" in broker.log(), "the certificate CN should be the MQTT username"


def test_every_node_reads_the_retained_state_of_others(pki: Pki, broker: Broker, clients):
    agency = mqtt_client(pki, "damkar-1", broker)
    clients.append(agency)
    assert not agency.publish_wait("siaga112/damkar-1/state", b"online", retain=True).is_failure
    posko = mqtt_client(pki, "posko-a", broker)
    clients.append(posko)
    posko.subscribe_wait("siaga112/+/state")
    msg = posko.next_message()
    assert msg is not None and (msg.topic, msg.payload, msg.retain) == ("siaga112/damkar-1/state", b"online", True)


def test_client_without_certificate_is_refused(pki: Pki, broker: Broker):
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-a", broker, client_cert=False)
    assert "peer did not return a certificate" in broker.log(), broker.log()


def test_client_with_certificate_from_another_ca_is_refused(pki: Pki, broker: Broker, tmp_path):
    # Same CN as a real node, signed by a look-alike CA.
    other = tmp_path / "other-pki"
    pki_lib.init_ca(other, "Diskominfotik Bengkalis")
    pki_lib.issue_node(other, "central", "central")
    impostor = pki_lib.issue_node(other, "posko-a", "posko")
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-a", broker, cert_bundle=impostor)
    assert "certificate verify failed" in broker.log(), broker.log()
    assert "u'posko-a'" not in broker.log()


def test_the_broker_certificate_is_not_accepted_as_a_client_certificate(pki: Pki, broker: Broker):
    # Same CA, but extendedKeyUsage serverAuth only: whoever copies the broker's key cannot log in with it.
    server = (pki.dir / "server" / "server.crt", pki.dir / "server" / "server.key")
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-a", broker, cert_files=server)
    assert "certificate verify failed" in broker.log(), broker.log()


def test_plain_mqtt_without_tls_is_refused(pki: Pki, broker: Broker):
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-a", broker, tls=False)
    # A raw MQTT 3.1.1 CONNECT never gets a CONNACK (0x20).
    connect = bytes([0x10, 14, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 2]) + b"xx"
    with socket.create_connection((broker.host, broker.port), timeout=2) as sock:
        sock.sendall(connect)
        try:
            reply = sock.recv(16)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"\x20"), reply
    assert "wrong version number" in broker.log(), broker.log()


# --- a real broker: the topic ACL -------------------------------------------------------------


def test_publishing_under_another_node_is_not_authorized_and_not_delivered(pki: Pki, broker: Broker, clients):
    central = mqtt_client(pki, "central", broker)
    clients.append(central)
    central.subscribe_wait("siaga112/+/to/central")
    posko = mqtt_client(pki, "posko-a", broker)
    clients.append(posko)
    # Mosquitto 2.0 answers an MQTT v5 QoS 1 publish it refuses with PUBACK 0x87 Not authorized.
    assert posko.publish_wait("siaga112/posko-b/to/central", b"forged").value == NOT_AUTHORIZED
    assert posko.publish_wait("siaga112/central/state", b"forged", retain=True).value == NOT_AUTHORIZED
    assert central.next_message(QUIET) is None, "a forged envelope reached the central"
    # Control: the same client on its own topic is delivered, so the silence above means something.
    assert posko.publish_wait("siaga112/posko-a/to/central", b"genuine").value == 0
    msg = central.next_message()
    assert msg is not None and msg.payload == b"genuine", broker.log()


def test_reading_envelopes_for_another_node_delivers_nothing(pki: Pki, broker: Broker, clients):
    snoop = mqtt_client(pki, "posko-a", broker)
    clients.append(snoop)
    # Mosquitto 2.0.11 does not check read rights at SUBSCRIBE time: it grants the subscription
    # (SUBACK QoS 1) and filters each message at delivery. Later brokers may refuse in SUBACK
    # (>= 0x80); either is fine as long as nothing is delivered.
    assert len(snoop.subscribe_wait("siaga112/+/to/posko-b")) == 1
    snoop.subscribe_wait("#")
    target = mqtt_client(pki, "posko-b", broker)
    clients.append(target)
    target.subscribe_wait("siaga112/+/to/posko-b")
    central = mqtt_client(pki, "central", broker)
    clients.append(central)
    assert central.publish_wait("siaga112/central/to/posko-b", b"for posko-b only").value == 0
    msg = target.next_message()
    assert msg is not None and msg.payload == b"for posko-b only", broker.log()
    assert snoop.next_message(QUIET) is None, "posko-a read an envelope addressed to posko-b"


# --- revocation and the CRL -----------------------------------------------------------------


def test_revoked_node_is_refused_after_broker_restart(pki: Pki, broker: Broker, clients):
    mqtt_client(pki, "posko-b", broker).close()  # admitted before revocation
    pki_lib.revoke_node(pki.dir, "posko-b")
    broker.restart()
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-b", broker)
    assert "certificate verify failed" in broker.log(), broker.log()
    clients.append(mqtt_client(pki, "posko-a", broker))  # the others still get in


def test_sighup_reloads_the_crl_for_new_connections_but_keeps_open_ones(pki: Pki, broker: Broker, clients):
    connected = mqtt_client(pki, "posko-b", broker)
    clients.append(connected)
    pki_lib.revoke_node(pki.dir, "posko-b")
    broker.configure()  # copies the new CRL into the broker's folder
    broker.hup()
    time.sleep(0.3)
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-b", broker)
    # The connection opened before the revocation stays up and may still publish: only a
    # restart drops it, and the application layer must reject it via directory.json.
    assert connected.is_connected()
    assert not connected.publish_wait("siaga112/posko-b/state", b"still here").is_failure


def test_expired_crl_locks_every_node_out_until_refreshed(pki: Pki, broker: Broker, clients):
    ca_key = serialization.load_pem_private_key((pki.dir / "ca.key").read_bytes(), None)
    ca_crt = x509.load_pem_x509_certificate((pki.dir / "ca.crt").read_bytes())
    now = dt.datetime.now(dt.UTC)
    expired = (x509.CertificateRevocationListBuilder().issuer_name(ca_crt.subject)
               .last_update(now - dt.timedelta(days=31)).next_update(now - dt.timedelta(days=1))
               .sign(ca_key, hashes.SHA256()))
    (pki.dir / "crl.pem").write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    broker.restart()
    with pytest.raises(ConnectRefused):
        mqtt_client(pki, "posko-a", broker)
    pki_lib.refresh_crl(pki.dir)
    broker.restart()
    clients.append(mqtt_client(pki, "posko-a", broker))


# --- persistence -----------------------------------------------------------------------------


def test_queued_message_for_an_offline_node_survives_a_broker_restart(pki: Pki, broker: Broker, clients):
    session = {"client_id": "central-sync", "clean_start": False, "session_expiry": 7 * 24 * 3600}
    central = mqtt_client(pki, "central", broker, **session)
    central.subscribe_wait("siaga112/+/to/central")
    central.close()
    posko = mqtt_client(pki, "posko-a", broker)
    assert posko.publish_wait("siaga112/posko-a/to/central", b"queued").value == 0
    posko.close()
    broker.restart()
    central = mqtt_client(pki, "central", broker, **session)
    clients.append(central)
    msg = central.next_message()
    assert msg is not None and msg.payload == b"queued", f"queued message lost\n{broker.log()}"


# --- with the envelope codec --------------------------------------------------------------


def test_installed_bundles_seal_and_open_envelopes_over_the_broker(pki: Pki, broker: Broker, clients, tmp_path):
    from sync import envelope

    def node_keys(node_id: str) -> tuple[envelope.NodeKeys, dict]:
        sync_dir = tmp_path / node_id / "sync"
        pki_lib.install_bundle(pki_lib.load_bundle(pki.bundle(node_id)), sync_dir)
        sign, enc = pki_lib.load_node_keys(sync_dir)
        return envelope.NodeKeys(node_id, sign, enc), pki_lib.load_directory(sync_dir / "directory.json")

    posko_keys, posko_dir = node_keys("posko-a")
    central_keys, _ = node_keys("central")
    central_dir_path = tmp_path / "central" / "sync" / "directory.json"
    pki_lib.write_directory(pki.dir, central_dir_path)  # the central's copy, refreshed after issuing

    central = mqtt_client(pki, "central", broker)
    clients.append(central)
    central.subscribe_wait("siaga112/+/to/central")
    posko = mqtt_client(pki, "posko-a", broker)
    clients.append(posko)
    to_central = envelope.directory_from_json(posko_dir)["central"]
    sealed = envelope.seal(posko_keys, to_central, envelope.Kind.CHANGES, 1, b'{"changes": []}')
    assert posko.publish_wait("siaga112/posko-a/to/central", sealed).value == 0
    msg = central.next_message()
    assert msg is not None, broker.log()
    directory = envelope.directory_from_json(pki_lib.load_directory(central_dir_path))
    opened = envelope.open_envelope(msg.payload, central_keys, directory)
    assert (opened.sender, opened.payload) == ("posko-a", b'{"changes": []}')

    # Revoked: the central rejects the node's envelopes as soon as its directory is refreshed,
    # even over a connection the broker has not dropped yet.
    pki_lib.revoke_node(pki.dir, "posko-a")
    pki_lib.write_directory(pki.dir, central_dir_path)
    directory = envelope.directory_from_json(pki_lib.load_directory(central_dir_path))
    with pytest.raises(envelope.RevokedSender):
        envelope.open_envelope(msg.payload, central_keys, directory)
