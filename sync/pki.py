"""The regency's own PKI: one CA, TLS certificates and envelope keys for every node.

Why it exists: the MQTT broker admits only clients holding a certificate from this CA (the
certificate's CN is the node id and becomes its MQTT username for the topic ACL), and every
sync envelope is signed (Ed25519) and encrypted (X25519) with per-node keys. This module
creates those credentials on the CA machine, keeps the registry of issued nodes, revokes
them (CRL), and packs everything a node needs into one enrolment bundle that the node
installs offline. Library only: the `siaga112 pki` commands in sync.cli call into it.

Layout of a PKI directory: ca.key (0600), ca.crt, registry.json, crl.pem,
server/server.{crt,key} (the broker's) and <node_id>/bundle.json (0600) per node.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync import dispatch_keys

BUNDLE_FORMAT = "siaga112-bundle/1"
ROLES = ("posko", "agency", "central")
NODE_ID_RE = re.compile(r"[a-z0-9-]{2,32}")
RESERVED_IDS = frozenset({"server"})  # folder names inside the PKI directory
CA_DAYS = 3650
NODE_DAYS = 730
CRL_DAYS = 30
# Certificates and CRLs start a day in the past: appliances run offline with drifting clocks,
# and a broker whose clock is behind a CRL's lastUpdate refuses every client.
BACKDATE = dt.timedelta(days=1)
SERVER_CN = "Siaga 112 broker"  # has a space and capitals, so it can never be a node id

_PRIVATE = serialization.PrivateFormat
_RAW = serialization.Encoding.Raw


class PkiError(Exception):
    """A PKI operation was refused or its input was invalid (message says why)."""


class NodeExists(PkiError):
    """A node with this id was already issued (revoked ids are not reused)."""


class UnknownNode(PkiError):
    """No node with this id is in the registry."""


class AlreadyRevoked(PkiError):
    """The node's certificate is already revoked."""


class BadBundle(PkiError):
    """An enrolment bundle is missing, corrupt, of the wrong format or inconsistent."""


# --- small helpers ---------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pub_b64(key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))


def _priv_b64(key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey) -> str:
    return _b64(key.private_bytes(_RAW, _PRIVATE.Raw, serialization.NoEncryption()))


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to a temp file beside `path` with `mode`, fsync it, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), mode)


def _key_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, _PRIVATE.PKCS8, serialization.NoEncryption())


def _key_usage(*allowed: str) -> x509.KeyUsage:
    flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_ca(pki_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, crt_path = pki_dir / "ca.key", pki_dir / "ca.crt"
    if not key_path.exists() or not crt_path.exists():
        raise PkiError(f"{pki_dir} holds no CA; run `siaga112 pki init` first")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{key_path} is not an EC private key")
    return key, x509.load_pem_x509_certificate(crt_path.read_bytes())


def _read_json(path: Path, missing: str, error: type[PkiError] = PkiError) -> Any:
    """Parsed JSON object from `path`; `error(missing)` if absent, `error` naming the file if corrupt."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(missing) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{path} is corrupt (not valid JSON: {exc})") from exc
    if not isinstance(data, dict):
        raise error(f"{path} is corrupt (not a JSON object)")
    return data


def load_registry(pki_dir: Path) -> dict[str, dict[str, Any]]:
    """The registry: node id -> {role, agency, areas, sign_pub, enc_pub, cert_serial, revoked, issued_at}."""
    return _read_json(pki_dir / "registry.json", f"{pki_dir} holds no registry.json; run `siaga112 pki init` first")


def _save_registry(pki_dir: Path, registry: dict[str, dict[str, Any]]) -> None:
    _write_json(pki_dir / "registry.json", registry, 0o644)


def _build_cert(ca_key: ec.EllipticCurvePrivateKey, issuer: x509.Name, subject: x509.Name,
                public_key: ec.EllipticCurvePublicKey, days: int, *extensions: x509.ExtensionType) -> x509.Certificate:
    """A certificate signed by `ca_key`; BasicConstraints and KeyUsage are marked critical."""
    now = _now()
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=isinstance(ext, x509.BasicConstraints | x509.KeyUsage))
    return builder.sign(ca_key, hashes.SHA256())


def _leaf_cert(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str,
               public_key: ec.EllipticCurvePublicKey, usage: x509.ObjectIdentifier,
               san: list[x509.GeneralName] | None = None) -> x509.Certificate:
    extensions: list[x509.ExtensionType] = [
        x509.BasicConstraints(ca=False, path_length=None), _key_usage("digital_signature"),
        x509.ExtendedKeyUsage([usage]), x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())]
    if san:
        extensions.append(x509.SubjectAlternativeName(san))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _build_cert(ca_key, ca_cert.subject, subject, public_key, NODE_DAYS, *extensions)


def _write_crl(pki_dir: Path, registry: dict[str, dict[str, Any]], days: int = CRL_DAYS) -> Path:
    """Sign a fresh CRL listing every revoked node's serial; its CRL number increases each time."""
    ca_key, ca_cert = _load_ca(pki_dir)
    path = pki_dir / "crl.pem"
    number = 1
    if path.exists():
        old = x509.load_pem_x509_crl(path.read_bytes()).extensions
        with contextlib.suppress(x509.ExtensionNotFound):
            number = old.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    now = _now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - BACKDATE).next_update(now + dt.timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    for entry in registry.values():
        if entry.get("revoked"):
            revoked_at = dt.datetime.fromisoformat(entry.get("revoked_at") or now.isoformat())
            builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(
                int(entry["cert_serial"], 16)).revocation_date(revoked_at).build())
    write_atomic(path, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), 0o644)
    return path


# --- CA side ---------------------------------------------------------------------------


def init_ca(pki_dir: Path, name: str) -> None:
    """Create the CA (EC P-256, 10 years), an empty registry and an empty CRL; never overwrites."""
    name = name.strip()
    if not name:
        raise PkiError("the CA needs a name, e.g. \"Diskominfotik Bengkalis\"")
    existing = [f for f in ("ca.key", "ca.crt", "registry.json") if (pki_dir / f).exists()]
    if existing:
        raise PkiError(f"{pki_dir} already holds a CA ({', '.join(existing)}); refusing to overwrite it")
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Siaga 112 CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    cert = _build_cert(key, subject, subject, key.public_key(), CA_DAYS,
                       x509.BasicConstraints(ca=True, path_length=0), _key_usage("key_cert_sign", "crl_sign"))
    write_atomic(pki_dir / "ca.key", _key_pem(key), 0o600)
    write_atomic(pki_dir / "ca.crt", _cert_pem(cert), 0o644)
    _save_registry(pki_dir, {})
    _write_crl(pki_dir, {})
    dispatch_keys.master_key(pki_dir)


def issue_server_cert(pki_dir: Path, hostnames: list[str]) -> tuple[Path, Path]:
    """Issue the broker's TLS certificate (SAN: DNS names, IP addresses); returns (crt, key) paths."""
    if not hostnames:
        raise PkiError("the broker certificate needs at least one host name or IP address")
    ca_key, ca_cert = _load_ca(pki_dir)
    san: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            san.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf_cert(ca_key, ca_cert, SERVER_CN, key.public_key(), ExtendedKeyUsageOID.SERVER_AUTH, san)
    folder = pki_dir / "server"
    folder.mkdir(mode=0o700, exist_ok=True)
    crt, key_path = folder / "server.crt", folder / "server.key"
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(crt, _cert_pem(cert), 0o644)
    return crt, key_path


def _active_centrals(registry: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(n for n, e in registry.items() if e.get("role") == "central" and not e.get("revoked"))


def _entry_public(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("role", "agency", "areas", "sign_pub", "enc_pub", "revoked")
    return {k: entry.get(k) for k in keys}


def _validate_node_id(node_id: str) -> None:
    if not NODE_ID_RE.fullmatch(node_id or ""):
        raise PkiError(f"invalid node id {node_id!r}: use 2-32 characters a-z, 0-9 and '-'")
    if node_id in RESERVED_IDS:
        raise PkiError(f"node id {node_id!r} is reserved")


def issue_node(pki_dir: Path, node_id: str, role: str, agency: str | None = None, areas: list[str] | None = None,
               broker_host: str = "127.0.0.1", broker_port: int = 8883, central: str | None = None) -> Path:
    """Create a node's TLS certificate and envelope keys, register it and write its bundle; returns the path."""
    _validate_node_id(node_id)
    if role not in ROLES:
        raise PkiError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    agency = (agency or "").strip() or None
    if role == "agency" and not agency:
        raise PkiError("an agency node needs its agency code (e.g. --agency DAMKAR)")
    if role != "agency" and agency:
        raise PkiError(f"only agency nodes have an agency code, not a {role} node")
    areas = [a.strip() for a in (areas or []) if a.strip()]
    if not broker_host or not 0 < broker_port < 65536:
        raise PkiError(f"invalid broker address {broker_host!r}:{broker_port}")
    ca_key, ca_cert = _load_ca(pki_dir)
    registry = load_registry(pki_dir)
    if node_id in registry:
        state = "revoked" if registry[node_id].get("revoked") else "issued"
        raise NodeExists(f"node {node_id!r} was already {state}; choose another id")
    centrals = _active_centrals(registry)
    if role == "central":
        if centrals:
            raise PkiError(f"this CA already has a central node ({centrals[0]}); revoke it first")
        central = node_id
    elif central is not None:
        if central not in centrals:
            raise PkiError(f"{central!r} is not an active central node of this CA")
    elif len(centrals) != 1:
        raise PkiError("issue the central node first: every posko and agency node must know its central"
                       if not centrals else f"the CA has several central nodes ({', '.join(centrals)})")
    else:
        central = centrals[0]

    tls_key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf_cert(ca_key, ca_cert, node_id, tls_key.public_key(), ExtendedKeyUsageOID.CLIENT_AUTH)
    sign_key = ed25519.Ed25519PrivateKey.generate()
    enc_key = x25519.X25519PrivateKey.generate()
    registry[node_id] = {
        "role": role, "agency": agency, "areas": areas,
        "sign_pub": _pub_b64(sign_key), "enc_pub": _pub_b64(enc_key),
        "cert_serial": format(cert.serial_number, "x"), "revoked": False,
        "issued_at": _now().isoformat(timespec="seconds"),
    }
    if role == "central":
        directory_part = {n: _entry_public(e) for n, e in registry.items()}
    else:
        directory_part = {n: _entry_public(registry[n]) for n in (node_id, central)}
    bundle = {
        "format": BUNDLE_FORMAT, "node_id": node_id, "role": role, "agency": agency, "areas": areas,
        "central": central, "broker": {"host": broker_host, "port": broker_port},
        "ca_crt": _cert_pem(ca_cert).decode(), "node_crt": _cert_pem(cert).decode(),
        "node_key": _key_pem(tls_key).decode(),
        "sign_key": _priv_b64(sign_key), "enc_key": _priv_b64(enc_key),
        "directory": directory_part,
        "dispatch_keys": dispatch_keys.bundle_part(pki_dir, role, agency),
    }
    folder = pki_dir / node_id
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "bundle.json"
    _write_json(path, bundle, 0o600)
    _save_registry(pki_dir, registry)
    return path


def revoke_node(pki_dir: Path, node_id: str) -> None:
    """Mark the node revoked in the registry and sign a new CRL that lists its certificate."""
    registry = load_registry(pki_dir)
    if node_id not in registry:
        raise UnknownNode(f"no node {node_id!r} in {pki_dir / 'registry.json'}")
    if registry[node_id].get("revoked"):
        raise AlreadyRevoked(f"node {node_id!r} is already revoked")
    registry[node_id]["revoked"] = True
    registry[node_id]["revoked_at"] = _now().isoformat(timespec="seconds")
    _write_crl(pki_dir, registry)
    _save_registry(pki_dir, registry)


def refresh_crl(pki_dir: Path, days: int = CRL_DAYS) -> Path:
    """Re-sign the CRL (same revocations, new next update); the broker refuses everyone once it expires."""
    return _write_crl(pki_dir, load_registry(pki_dir), days)


def directory(pki_dir: Path) -> dict[str, dict[str, Any]]:
    """Every node's public entry {role, agency, areas, sign_pub, enc_pub, revoked}, as the central needs."""
    return {n: _entry_public(e) for n, e in sorted(load_registry(pki_dir).items())}


def write_directory(pki_dir: Path, path: Path) -> None:
    """Write the full directory to `path` atomically (temp file + os.replace)."""
    _write_json(path, directory(pki_dir), 0o644)


# --- node side -------------------------------------------------------------------------

_BUNDLE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "node_id": str, "role": str, "agency": (str, type(None)), "areas": list, "central": (str, type(None)),
    "broker": dict, "ca_crt": str, "node_crt": str, "node_key": str, "sign_key": str, "enc_key": str,
    "directory": dict,
}


def _raw_key(bundle: dict[str, Any], field: str) -> bytes:
    try:
        raw = base64.b64decode(bundle[field], validate=True)
    except ValueError as exc:
        raise BadBundle(f"bundle field {field!r} is not base64") from exc
    if len(raw) != 32:
        raise BadBundle(f"bundle field {field!r} is not a 32-byte key")
    return raw


def _check_bundle(bundle: Any) -> None:
    """Raise BadBundle unless `bundle` is a complete, self-consistent siaga112-bundle/1."""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BadBundle(f"not a Siaga 112 enrolment bundle (format must be {BUNDLE_FORMAT!r})")
    for field, kind in _BUNDLE_FIELDS.items():
        if field not in bundle:
            raise BadBundle(f"bundle lacks the field {field!r}")
        if not isinstance(bundle[field], kind):
            raise BadBundle(f"bundle field {field!r} has the wrong type")
    if not NODE_ID_RE.fullmatch(bundle["node_id"]) or bundle["role"] not in ROLES:
        raise BadBundle(f"bundle has an invalid node id or role ({bundle['node_id']!r}, {bundle['role']!r})")
    if not isinstance(bundle["broker"].get("host"), str) or not isinstance(bundle["broker"].get("port"), int):
        raise BadBundle("bundle field 'broker' needs a host and an integer port")
    try:
        ca = x509.load_pem_x509_certificate(bundle["ca_crt"].encode())
        cert = x509.load_pem_x509_certificate(bundle["node_crt"].encode())
        key = serialization.load_pem_private_key(bundle["node_key"].encode(), password=None)
    except ValueError as exc:
        raise BadBundle(f"bundle holds an unreadable certificate or key: {exc}") from exc
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise BadBundle("the node certificate was not issued by the bundle's CA") from exc
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns or cns[0].value != bundle["node_id"]:
        raise BadBundle("the node certificate is for another node id")
    if key.public_key() != cert.public_key():
        raise BadBundle("the node key does not match the node certificate")
    own = bundle["directory"].get(bundle["node_id"])
    if not isinstance(own, dict):
        raise BadBundle("the bundle's directory lacks the node itself")
    sign = ed25519.Ed25519PrivateKey.from_private_bytes(_raw_key(bundle, "sign_key"))
    enc = x25519.X25519PrivateKey.from_private_bytes(_raw_key(bundle, "enc_key"))
    if _pub_b64(sign) != own.get("sign_pub") or _pub_b64(enc) != own.get("enc_pub"):
        raise BadBundle("the bundle's keys do not match its directory entry")
    if bundle["central"] not in bundle["directory"] and (bundle["central"] or bundle["role"] != "central"):
        raise BadBundle("the bundle does not name its central node or lacks its directory entry")


def load_bundle(path: Path) -> dict[str, Any]:
    """Read and validate an enrolment bundle; BadBundle (a PkiError) says what is wrong."""
    bundle = _read_json(path, f"no bundle at {path}", BadBundle)
    _check_bundle(bundle)
    return bundle


def install_bundle(bundle: dict[str, Any], sync_dir: Path) -> None:
    """Write the node's credentials, directory and sync.json into `sync_dir` (0700; keys 0600)."""
    _check_bundle(bundle)
    config_path = sync_dir / "sync.json"
    if config_path.exists():
        installed = _read_json(config_path, "").get("node_id")
        if installed != bundle["node_id"]:
            raise PkiError(f"{sync_dir} already belongs to node {installed!r}; refusing to install "
                           f"the bundle of {bundle['node_id']!r} over it")
    sync_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(sync_dir, 0o700)
    sign = ed25519.Ed25519PrivateKey.from_private_bytes(_raw_key(bundle, "sign_key"))
    enc = x25519.X25519PrivateKey.from_private_bytes(_raw_key(bundle, "enc_key"))
    write_atomic(sync_dir / "ca.crt", bundle["ca_crt"].encode(), 0o644)
    write_atomic(sync_dir / "node.crt", bundle["node_crt"].encode(), 0o644)
    write_atomic(sync_dir / "node.key", bundle["node_key"].encode(), 0o600)
    write_atomic(sync_dir / "sign.key", _key_pem(sign), 0o600)
    write_atomic(sync_dir / "enc.key", _key_pem(enc), 0o600)
    _write_json(sync_dir / "directory.json", bundle["directory"], 0o644)
    dispatch_keys.install(bundle.get("dispatch_keys"), sync_dir)
    config = {k: bundle[k] for k in ("node_id", "role", "agency", "areas", "central", "broker")}
    _write_json(config_path, config, 0o644)


def _load_private(path: Path) -> object:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise PkiError(f"{path} is missing; install the node's bundle first") from exc
    except ValueError as exc:
        raise PkiError(f"{path} is corrupt: {exc}") from exc


def load_node_keys(sync_dir: Path) -> tuple[ed25519.Ed25519PrivateKey, x25519.X25519PrivateKey]:
    """The installed node's (signing, encryption) private keys from sign.key and enc.key."""
    sign_key, enc_key = _load_private(sync_dir / "sign.key"), _load_private(sync_dir / "enc.key")
    if not isinstance(sign_key, ed25519.Ed25519PrivateKey):
        raise PkiError(f"{sync_dir / 'sign.key'} is not an Ed25519 private key")
    if not isinstance(enc_key, x25519.X25519PrivateKey):
        raise PkiError(f"{sync_dir / 'enc.key'} is not an X25519 private key")
    return sign_key, enc_key


def load_directory(path: Path) -> dict[str, dict[str, Any]]:
    """Read a directory.json (node id -> public entry); PkiError if missing or corrupt."""
    data = _read_json(path, f"no directory at {path}")
    if not all(isinstance(v, dict) and "sign_pub" in v for v in data.values()):
        raise PkiError(f"{path} is not a Siaga 112 node directory")
    return data
