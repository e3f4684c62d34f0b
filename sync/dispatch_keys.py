"""The keys behind a dispatch's auth code (the `K:` of an SMS or radio dispatch).

A forged SMS or radio text must not pass for a dispatch, so every dispatch text carries an
HMAC made with its agency's key. The regency holds one master key, made beside its CA
(`pki/dispatch.key`); an agency's key is derived from it and the agency code, so posko and
central, which dispatch to every agency (including ones added later), hold the master, while
an agency station's bundle carries only its own agency's key: a station cannot forge a
dispatch for another agency. `install_bundle` writes what the bundle carries into the node's
`sync/dispatch_keys.json` (mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

MASTER_FILE = "dispatch.key"
NODE_FILE = "dispatch_keys.json"
_LABEL = b"siaga112-dispatch-key|"


class NoDispatchKey(Exception):
    """This node holds no key for that agency's dispatches."""


def agency_key(master: bytes, agency_code: str) -> bytes:
    """The agency's key: HMAC-SHA256 of its code under the regency master key."""
    return hmac.new(master, _LABEL + agency_code.strip().upper().encode(), hashlib.sha256).digest()


def master_key(pki_dir: Path) -> bytes:
    """The regency's master dispatch key, made (32 random bytes, 0600) the first time it is asked for."""
    path = Path(pki_dir) / MASTER_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def bundle_part(pki_dir: Path, role: str, agency: str | None) -> dict[str, str]:
    """What a node's bundle carries: the master for posko and central, one agency key for a station."""
    master = master_key(pki_dir)
    if role == "agency" and agency:
        return {"agency": agency.upper(), "key": base64.b64encode(agency_key(master, agency)).decode()}
    return {"master": base64.b64encode(master).decode()}


def install(part: dict[str, str] | None, sync_dir: Path) -> None:
    """Write the bundle's dispatch keys into the node (nothing for an old bundle without them)."""
    if not part:
        return
    from sync.pki import write_atomic

    write_atomic(Path(sync_dir) / NODE_FILE, json.dumps(part).encode(), 0o600)


def key_for(data_dir: Path, agency_code: str) -> bytes:
    """The key for `agency_code`'s dispatches on this node; NoDispatchKey if the node has none.

    A node never enrolled (a single posko on its own, with its stations on the same machine)
    uses a key derived from its own secret instead."""
    path = Path(data_dir) / "sync" / NODE_FILE
    try:
        part = json.loads(path.read_text())
    except FileNotFoundError:
        own = Path(data_dir) / "secret_key"
        base = own.read_bytes() if own.exists() else b""
        return hashlib.sha256(base + b"|sms-dispatch|" + agency_code.encode()).digest()
    except ValueError as exc:
        raise NoDispatchKey(f"{path} is corrupt") from exc
    if "master" in part:
        return agency_key(base64.b64decode(part["master"]), agency_code)
    if part.get("agency", "").upper() == agency_code.strip().upper():
        return base64.b64decode(part["key"])
    raise NoDispatchKey(f"this node holds only the key of {part.get('agency')!r}, not {agency_code!r}")
