"""Node enrolment and revocation from central's UI, on top of the regency PKI (sync.pki).

Why it exists: the administrator at Diskominfotik enrols a new posko or agency station, hands
over its bundle and revokes a lost or retired node without a shell. Every credential operation
is sync.pki's own (issue_node, revoke_node, write_directory) and the broker's ACL text is
sync.broker's; this module only adds what the UI needs around them: where the PKI lives on
this node, form validation, the central's directory refresh, and an audit event per action.

Where things are: the PKI directory is app config PKI_DIR, else $SIAGA112_PKI_DIR, else
<data dir>/pki; the broker folder written by `siaga112 pki broker-config` is BROKER_DIR, else
$SIAGA112_BROKER_DIR, else <data dir>/broker when it exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from edge.enums import Role
from edge.models import User
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.errors import Conflict, Forbidden, NotFound, ServiceError
from edge.services.validation import Checker
from sync import broker as broker_lib
from sync import pki as pki_lib
from sync.status import node_status

DEFAULT_BROKER = ("127.0.0.1", 8883)


class PkiUnavailable(ServiceError):
    """This central node has no PKI directory (CA) to work with."""

    status_code = 503
    code = "pki_unavailable"


class PkiRefused(Conflict):
    """sync.pki refused the operation; `reason` is its own message."""


@dataclass(frozen=True)
class Places:
    """Where the PKI, the broker configuration and this node's sync folder are."""

    pki_dir: Path
    broker_dir: Path | None
    sync_dir: Path

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Places:
        data_dir = Path(config["DATA_DIR"])
        pki = config.get("PKI_DIR") or os.environ.get("SIAGA112_PKI_DIR") or data_dir / "pki"
        broker = config.get("BROKER_DIR") or os.environ.get("SIAGA112_BROKER_DIR")
        if not broker and (data_dir / "broker" / "acl").exists():
            broker = data_dir / "broker"
        return cls(Path(pki), Path(broker) if broker else None, data_dir / "sync")

    @property
    def has_pki(self) -> bool:
        return (self.pki_dir / "registry.json").exists() and (self.pki_dir / "ca.key").exists()


@dataclass
class NodeEntry:
    node_id: str
    role: str
    agency: str | None
    areas: list[str]
    issued_at: str
    revoked: bool
    revoked_at: str | None
    cert_expires: dt.datetime | None
    last_contact: dt.datetime | None = None
    online: bool = False

    @property
    def expires_soon(self) -> bool:
        return self.cert_expires is not None and self.cert_expires - dt.datetime.now(dt.UTC) < dt.timedelta(days=60)


@dataclass
class RevokeResult:
    node_id: str
    directory_updated: bool
    acl_updated: bool
    notes: list[str] = field(default_factory=list)


def _require_admin(actor: User | None) -> None:
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden("Hanya administrator yang boleh mendaftarkan dan mencabut node")


def _require_pki(places: Places) -> None:
    if not places.has_pki:
        raise PkiUnavailable("Server pusat ini belum memegang PKI regensi di {path}", path=str(places.pki_dir))


def _registry(places: Places) -> dict[str, dict[str, Any]]:
    _require_pki(places)
    try:
        return pki_lib.load_registry(places.pki_dir)
    except pki_lib.PkiError as exc:
        raise PkiRefused("PKI menolak: {reason}", reason=str(exc)) from None


def _cert_expiry(places: Places, node_id: str, entry: dict[str, Any]) -> dt.datetime | None:
    """The node certificate's notAfter, read from its bundle; else issued_at + the PKI's lifetime."""
    bundle = places.pki_dir / node_id / "bundle.json"
    try:
        cert = x509.load_pem_x509_certificate(json.loads(bundle.read_text(encoding="utf-8"))["node_crt"].encode())
        return cert.not_valid_after_utc
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return dt.datetime.fromisoformat(entry["issued_at"]) + dt.timedelta(days=pki_lib.NODE_DAYS)
    except (KeyError, TypeError, ValueError):
        return None


def list_nodes(places: Places) -> list[NodeEntry]:
    """Every node the regency CA issued, with its certificate expiry and last sync contact."""
    registry = _registry(places)
    peers = {p.node: p for p in node_status().peers}
    out = []
    for node_id, entry in sorted(registry.items()):
        peer = peers.get(node_id)
        out.append(NodeEntry(
            node_id, entry.get("role", "?"), entry.get("agency"), list(entry.get("areas") or []),
            entry.get("issued_at", ""), bool(entry.get("revoked")), entry.get("revoked_at"),
            _cert_expiry(places, node_id, entry),
            peer.last_contact if peer else None, bool(peer and peer.online),
        ))
    return out


def broker_defaults(places: Places) -> tuple[str, int]:
    """The broker address new nodes get: the one this central connects to, else 127.0.0.1:8883."""
    try:
        broker = json.loads((places.sync_dir / "sync.json").read_text(encoding="utf-8"))["broker"]
        return str(broker["host"]), int(broker["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_BROKER


def _refresh_directory(places: Places) -> bool:
    """Rewrite this central's directory.json (its sync daemon reloads it) when sync is installed here."""
    if not (places.sync_dir / "sync.json").exists():
        return False
    pki_lib.write_directory(places.pki_dir, places.sync_dir / "directory.json")
    return True


def enrol(actor: User, places: Places, data: Mapping[str, Any] | None) -> Path:
    """Issue a node's certificate, keys and bundle (sync.pki.issue_node); returns the bundle's path."""
    _require_admin(actor)
    _require_pki(places)
    check = Checker(data)
    node_id = check.text("node_id", required=True, max_len=32).lower()
    role = check.text("role", required=True, max_len=16)
    agency = check.text("agency", max_len=32).upper() or None
    areas = [a.strip() for a in check.text("areas", max_len=1000).split(",") if a.strip()]
    host_default, port_default = broker_defaults(places)
    broker_host = check.text("broker_host", max_len=253) or host_default
    port_text = check.text("broker_port", max_len=5)
    if role and role not in pki_lib.ROLES:
        check.fail("role", "Peran node: posko, agency atau central")
    if role == "agency" and not agency:
        check.fail("agency", "Node instansi memerlukan kode instansi")
    if role and role != "agency" and agency:
        check.fail("agency", "Hanya node instansi yang memiliki kode instansi")
    broker_port = port_default
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            check.fail("broker_port", "Port 1-65535")
        else:
            broker_port = int(port_text)
    check.done()
    with write_tx():
        try:
            path = pki_lib.issue_node(places.pki_dir, node_id, role, agency=agency, areas=areas,
                                      broker_host=broker_host, broker_port=broker_port)
        except pki_lib.PkiError as exc:
            raise PkiRefused("PKI menolak: {reason}", reason=str(exc)) from None
        append_event(None, actor.username, "node.enrol", {
            "node_id": node_id, "role": role, "agency": agency, "areas": areas,
            "broker": f"{broker_host}:{broker_port}",
        })
    _refresh_directory(places)
    return path


def bundle_for_download(actor: User, places: Places, node_id: str) -> bytes:
    """The node's enrolment bundle (it holds private keys: every download is audited)."""
    _require_admin(actor)
    _require_pki(places)
    entry = _registry(places).get(node_id)
    if entry is None:
        raise NotFound("Node tidak ditemukan")
    if entry.get("revoked"):
        raise Conflict("Node sudah dicabut; bundelnya tidak boleh dipasang lagi")
    path = places.pki_dir / node_id / "bundle.json"
    try:
        pki_lib.load_bundle(path)
    except pki_lib.PkiError as exc:
        raise PkiRefused("PKI menolak: {reason}", reason=str(exc)) from None
    with write_tx():
        append_event(None, actor.username, "node.bundle_download", {"node_id": node_id})
    return path.read_bytes()


def _update_broker(places: Places) -> bool:
    """Copy the new CRL and rewrite the ACL in the broker folder (what `pki broker-config` writes)."""
    folder = places.broker_dir
    if folder is None or not (folder / "acl").exists():
        return False
    registry = pki_lib.load_registry(places.pki_dir)
    tls = folder / "tls"
    if tls.is_dir():
        pki_lib.write_atomic(tls / "crl.pem", (places.pki_dir / "crl.pem").read_bytes(), 0o644)
    pki_lib.write_atomic(folder / "acl", broker_lib.acl_text(registry).encode(), 0o644)
    return True


def revoke(actor: User, places: Places, node_id: str, confirm: str | None) -> RevokeResult:
    """Revoke a node (registry + new CRL), then refresh the central's directory and the broker's CRL and ACL.

    `confirm` must repeat the node id, so a slip of the mouse cannot lock a posko out.
    """
    _require_admin(actor)
    _require_pki(places)
    if (confirm or "").strip() != node_id:
        raise Conflict("Ketik ID node untuk mengonfirmasi pencabutan")
    if _registry(places).get(node_id, {}).get("role") == "central":
        # Revoking the central cuts every node off; it is a CA decision, taken with `siaga112 pki revoke`.
        raise Conflict("Node pusat tidak dicabut dari sini; gunakan siaga112 pki revoke")
    with write_tx():
        try:
            pki_lib.revoke_node(places.pki_dir, node_id)
        except pki_lib.UnknownNode:
            raise NotFound("Node tidak ditemukan") from None
        except pki_lib.PkiError as exc:
            raise PkiRefused("PKI menolak: {reason}", reason=str(exc)) from None
        append_event(None, actor.username, "node.revoke", {"node_id": node_id})
    result = RevokeResult(node_id, _refresh_directory(places), _update_broker(places))
    if not result.acl_updated:
        result.notes.append("Salin CRL baru ke broker: siaga112 pki broker-config, lalu mulai ulang broker")
    else:
        result.notes.append("Mulai ulang broker agar koneksi node yang dicabut terputus")
    if not result.directory_updated:
        result.notes.append("Perbarui direktori server pusat: siaga112 pki directory")
    return result
