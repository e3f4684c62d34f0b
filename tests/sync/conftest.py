"""Fixtures for sync tests: a real PKI, a real Mosquitto broker and real paho-mqtt clients.

Reusable by integration tests: `pki`, `broker` and `mqtt_client(pki, node_id, broker, **kw)`.
"""

from __future__ import annotations

import os
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sync import pki as pki_lib
from sync.localnet import LocalBroker, free_port  # noqa: F401 - free_port re-exported for tests

MOSQUITTO = "/usr/sbin/mosquitto"
HOST = "127.0.0.1"
TIMEOUT = 2.0
NODES = (
    ("central", "central", None, []),
    ("posko-a", "posko", None, ["Bengkalis"]),
    ("posko-b", "posko", None, ["Bantan"]),
    ("damkar-1", "agency", "DAMKAR", ["Bengkalis", "Bantan"]),
)


@dataclass
class Pki:
    """A PKI directory with a CA and the nodes of NODES issued."""

    dir: Path

    def bundle(self, node_id: str) -> Path:
        return self.dir / node_id / "bundle.json"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """CA "Diskominfotik Bengkalis" with central, posko-a, posko-b and damkar-1 (agency DAMKAR)."""
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "Diskominfotik Bengkalis")
    for node_id, role, agency, areas in NODES:
        pki_lib.issue_node(pki_dir, node_id, role, agency=agency, areas=areas)
    return Pki(pki_dir)


class Broker(LocalBroker):
    """The demo's and bench's broker (sync.localnet.LocalBroker), also knowing its test PKI."""

    def __init__(self, pki: Pki, workdir: Path) -> None:
        self.pki = pki
        super().__init__(workdir, pki.dir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the Mosquitto log to the report of a failed test that used the broker fixture."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("broker")
    if report.failed and isinstance(running, Broker):
        report.sections.append(("mosquitto log", running.log()))


@pytest.fixture
def broker(pki: Pki, tmp_path: Path) -> Iterator[Broker]:
    """A running Mosquitto for `pki`; stopped (killed if need be) at teardown."""
    b = Broker(pki, tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


class ConnectRefused(Exception):
    """The broker refused the connection or dropped it before a successful CONNACK."""


class SyncTestClient(mqtt.Client):
    """A paho client that records acknowledgements and messages so tests can wait for them."""

    # Callback methods are named _record_*: paho keeps its callbacks in instance attributes
    # named _on_connect etc., which would shadow methods of those names.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.acks: dict[int, Any] = {}
        self.cond = threading.Condition()
        self.connect_result: Any = None
        self.disconnect_result: Any = None
        self.on_connect = self._record_connect
        self.on_disconnect = self._record_disconnect
        self.on_publish = self._record_ack
        self.on_subscribe = self._record_ack
        self.on_message = lambda _c, _u, msg: self.messages.put(msg)

    def _record_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self.cond:
            self.connect_result = reason
            self.cond.notify_all()

    def _record_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self.cond:
            self.disconnect_result = reason
            self.cond.notify_all()

    def _record_ack(self, _c: Any, _u: Any, mid: int, reason: Any, _props: Any) -> None:
        with self.cond:
            self.acks[mid] = reason
            self.cond.notify_all()

    def wait_ack(self, mid: int, timeout: float = TIMEOUT) -> Any:
        """The PUBACK reason code / SUBACK reason code list for `mid`; AssertionError on timeout."""
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.acks, timeout):
                raise AssertionError(f"no acknowledgement for mid {mid} within {timeout}s")
            return self.acks[mid]

    def publish_wait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> Any:
        info = self.publish(topic, payload, qos=qos, retain=retain)
        return self.wait_ack(info.mid)

    def subscribe_wait(self, topic: str, qos: int = 1) -> list[Any]:
        _rc, mid = self.subscribe(topic, qos=qos)
        return self.wait_ack(mid)

    def next_message(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage | None:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.disconnect()
        self.loop_stop()


def _pem_files(pki: Pki, node_id: str, cert_bundle: Path | None,
               cert_files: tuple[Path, Path] | None) -> tuple[Path, Path, Path]:
    """Files for the CA certificate (of `pki`) and the client certificate/key to present."""
    own = pki_lib.load_bundle(pki.bundle(node_id))
    if cert_files:
        cert_pem, key_pem = (p.read_text() for p in cert_files)
    else:
        source = pki_lib.load_bundle(cert_bundle) if cert_bundle else own
        cert_pem, key_pem = source["node_crt"], source["node_key"]
    folder = pki.dir.parent / "mqtt-clients" / f"{node_id}-{os.urandom(3).hex()}"
    folder.mkdir(parents=True, mode=0o700)
    paths = folder / "ca.crt", folder / "node.crt", folder / "node.key"
    for path, text in zip(paths, (own["ca_crt"], cert_pem, key_pem), strict=True):
        path.write_text(text)
        path.chmod(0o600)
    return paths


def mqtt_client(pki: Pki, node_id: str, broker: Broker, *, client_id: str | None = None,
                clean_start: bool = True, session_expiry: int | None = None, tls: bool = True,
                client_cert: bool = True, cert_bundle: Path | None = None,
                cert_files: tuple[Path, Path] | None = None, timeout: float = TIMEOUT) -> SyncTestClient:
    """A connected paho-mqtt 2.x client (MQTT v5) authenticated with `node_id`'s bundle.

    `client_cert=False` presents no certificate; `cert_bundle` (a bundle path) or `cert_files`
    (certificate and key paths) present another certificate, the server still being verified
    with `node_id`'s CA; `tls=False` speaks plain MQTT. Raises ConnectRefused unless the broker answers CONNACK Success.
    """
    client = SyncTestClient(CallbackAPIVersion.VERSION2, client_id=client_id or f"{node_id}-test",
                            protocol=mqtt.MQTTv5)
    if tls:
        ca, cert, key = _pem_files(pki, node_id, cert_bundle, cert_files)
        if client_cert:
            client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        else:
            client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    props = None
    if session_expiry is not None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry
    try:
        client.connect(broker.host, broker.port, keepalive=30, clean_start=clean_start, properties=props)
    except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
        raise ConnectRefused(f"{node_id}: connect failed: {exc!r}") from exc
    client.loop_start()
    with client.cond:
        client.cond.wait_for(lambda: client.connect_result is not None or client.disconnect_result is not None,
                             timeout)
        result, dropped = client.connect_result, client.disconnect_result
    if result is None or result.is_failure or dropped is not None:
        client.loop_stop()
        client.disconnect()
        raise ConnectRefused(f"{node_id}: no successful CONNACK (connack={result}, disconnect={dropped})")
    return client


@pytest.fixture
def clients() -> Iterator[list[SyncTestClient]]:
    """Collects clients to close at teardown: `c = mqtt_client(...); clients.append(c)`."""
    opened: list[SyncTestClient] = []
    yield opened
    for client in opened:
        client.close()
