"""Sealed envelopes: the only form in which sync data crosses the MQTT broker.

Why this exists: nodes (central, posko, agency stations) exchange batches of database
changes through a broker that must be assumed compromised. It may read, drop, delay,
reorder and resend whatever passes through it, so every envelope is
- signed by its sender (Ed25519, over every byte before the signature): nobody without the
  sender's key can forge or alter one, and a header cannot be moved onto another body;
- encrypted for its one recipient (X25519 with a fresh ephemeral key per envelope,
  HKDF-SHA256, ChaCha20-Poly1305): only the recipient can read the payload;
- numbered per (sender -> recipient) so a resent old envelope is detected (`check_sequence`;
  the caller keeps the last accepted number).
This module is the pure codec: bytes in, bytes out, no I/O, no state. See docs/envelope.md.

Wire format (all integers big-endian unsigned):

    offset  size  field
    0       2     magic b"S1"
    2       1     version = 1
    3       1     kind (1 CHANGES, 2 ACK, 3 HELLO, 4 REJOIN, 5 REJOINED)
    4       1     S = sender id length (1..64)
    5       S     sender id, ASCII [a-z0-9-]
    5+S     1     R = recipient id length (1..64)
    6+S     R     recipient id, ASCII [a-z0-9-]
    6+S+R   8     seq
    14+S+R  8     sent_at_ms (Unix time, milliseconds)
    22+S+R  32    ephemeral X25519 public key
    54+S+R  12    nonce
    --- header ends: bytes 0 .. 66+S+R are the AEAD associated data ---
    66+S+R  4     C = ciphertext length (>= 16)
    70+S+R  C     ciphertext (payload + 16-byte Poly1305 tag)
    70+S+R+C 64   Ed25519 signature over bytes 0 .. 70+S+R+C

    AEAD key = HKDF-SHA256(ikm = X25519(ephemeral, recipient enc key),
                           salt = ephemeral_pub || recipient_enc_pub,
                           info = b"siaga112 envelope v1" || sender || recipient, length 32)

Overhead is 150 + S + R bytes. `python -m sync.envelope` prints sizes and rates.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAGIC = b"S1"
VERSION = 1
MAX_ENVELOPE = 1024 * 1024
INFO_PREFIX = b"siaga112 envelope v1"
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
SIG_LEN = 64
MAX_U64 = 2**64 - 1
NODE_ID = re.compile(rb"[a-z0-9-]{1,64}")
# Fixed bytes besides the two ids: magic, version, kind, 2 lengths, seq, sent_at, eph, nonce,
# ciphertext length, tag, signature.
FIXED_OVERHEAD = 2 + 1 + 1 + 1 + 1 + 8 + 8 + KEY_LEN + NONCE_LEN + 4 + TAG_LEN + SIG_LEN


class EnvelopeError(Exception):
    """Base of every error raised while sealing, opening or checking an envelope."""


class Malformed(EnvelopeError):
    """The bytes are not an envelope: bad magic, version, kind, node id, length or truncated."""


class Oversized(EnvelopeError):
    """The envelope is larger than the allowed maximum (checked before any parsing)."""


class UnknownSender(EnvelopeError):
    """The claimed sender is not in the key directory."""


class RevokedSender(EnvelopeError):
    """The claimed sender's keys are marked revoked in the directory."""


class WrongRecipient(EnvelopeError):
    """The envelope is addressed to another node."""


class BadSignature(EnvelopeError):
    """The Ed25519 signature does not match the claimed sender's key: forged or altered."""


class Undecryptable(EnvelopeError):
    """Signed correctly but the ciphertext does not decrypt with this node's key."""


class Replayed(EnvelopeError):
    """The sequence number is not above the last one accepted from this sender."""


class Kind(IntEnum):
    """What the payload is: a batch of changes, an acknowledgement, a hello, or a restored
    node's rejoin request and central's answer (sync/rejoin.py)."""

    CHANGES = 1
    ACK = 2
    HELLO = 3
    REJOIN = 4
    REJOINED = 5


def _raw(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _node_id(node: str) -> bytes:
    """The id as bytes, or ValueError (for callers building keys or sealing)."""
    raw = node.encode("ascii", "replace") if isinstance(node, str) else b""
    if not NODE_ID.fullmatch(raw):
        raise ValueError(f"node id must match [a-z0-9-]{{1,64}}: {node!r}")
    return raw


@dataclass(frozen=True)
class NodeKeys:
    """This node's own long-term private keys: one to sign, one to receive."""

    node: str
    sign_private: Ed25519PrivateKey
    enc_private: X25519PrivateKey

    def __post_init__(self) -> None:
        _node_id(self.node)

    @classmethod
    def generate(cls, node: str) -> NodeKeys:
        return cls(node, Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @property
    def sign_public_raw(self) -> bytes:
        return _raw(self.sign_private.public_key())

    @property
    def enc_public_raw(self) -> bytes:
        return _raw(self.enc_private.public_key())

    def directory_entry(self) -> dict[str, Any]:
        """The public entry other nodes put in their directory for this node."""
        return {
            "sign_pub": base64.b64encode(self.sign_public_raw).decode("ascii"),
            "enc_pub": base64.b64encode(self.enc_public_raw).decode("ascii"),
            "revoked": False,
        }


@dataclass(frozen=True)
class PeerKeys:
    """Another node's public keys as listed in the key directory."""

    node: str
    sign_public: Ed25519PublicKey
    enc_public: X25519PublicKey
    revoked: bool = False

    def __post_init__(self) -> None:
        _node_id(self.node)

    @classmethod
    def from_directory_entry(cls, node: str, entry: dict[str, Any]) -> PeerKeys:
        """Build from {"sign_pub": b64, "enc_pub": b64, "revoked": bool}; ValueError if invalid."""
        revoked = entry.get("revoked", False)
        if not isinstance(revoked, bool):
            raise ValueError(f"{node}: 'revoked' must be true or false, not {revoked!r}")
        return cls(
            node,
            Ed25519PublicKey.from_public_bytes(_b64_key(node, entry, "sign_pub")),
            X25519PublicKey.from_public_bytes(_b64_key(node, entry, "enc_pub")),
            revoked,
        )


def _b64_key(node: str, entry: dict[str, Any], field: str) -> bytes:
    value = entry.get(field)
    if not isinstance(value, str):
        raise ValueError(f"{node}: '{field}' missing or not a string")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{node}: '{field}' is not valid base64") from exc
    if len(raw) != KEY_LEN:
        raise ValueError(f"{node}: '{field}' must be {KEY_LEN} bytes, got {len(raw)}")
    return raw


def directory_from_json(d: dict[str, Any]) -> dict[str, PeerKeys]:
    """Key directory from parsed JSON mapping node id -> entry (see PeerKeys.from_directory_entry)."""
    return {node: PeerKeys.from_directory_entry(node, entry) for node, entry in d.items()}


@dataclass(frozen=True)
class Opened:
    """A verified, decrypted envelope."""

    sender: str
    recipient: str
    kind: Kind
    seq: int
    sent_at_ms: int
    payload: bytes


@dataclass(frozen=True)
class _Parsed:
    sender: bytes
    recipient: bytes
    kind: Kind
    seq: int
    sent_at_ms: int
    ephemeral: bytes
    nonce: bytes
    header: bytes
    ciphertext: bytes
    signed: bytes
    signature: bytes


class _Reader:
    """Bounds-checked cursor: every short read is Malformed, never IndexError or struct.error."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed("truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def node_id(self) -> bytes:
        raw = self.take(self.uint(1))
        if not NODE_ID.fullmatch(raw):
            raise Malformed("bad node id")
        return raw


def _parse_header(r: _Reader) -> tuple[bytes, bytes, Kind, int, int]:
    if r.take(2) != MAGIC:
        raise Malformed("bad magic")
    if r.uint(1) != VERSION:
        raise Malformed("unsupported version")
    try:
        kind = Kind(r.uint(1))
    except ValueError:
        raise Malformed("unknown kind") from None
    sender = r.node_id()
    recipient = r.node_id()
    return sender, recipient, kind, r.uint(8), r.uint(8)


def _parse(data: bytes) -> _Parsed:
    r = _Reader(data)
    sender, recipient, kind, seq, sent_at_ms = _parse_header(r)
    ephemeral, nonce = r.take(KEY_LEN), r.take(NONCE_LEN)
    header = data[: r.pos]
    ct_len = r.uint(4)
    if ct_len < TAG_LEN:
        raise Malformed("ciphertext shorter than its tag")
    ciphertext = r.take(ct_len)
    signed = data[: r.pos]
    signature = r.take(SIG_LEN)
    if r.pos != len(data):
        raise Malformed("trailing bytes")
    return _Parsed(sender, recipient, kind, seq, sent_at_ms, ephemeral, nonce, header, ciphertext, signed, signature)


def _aead_key(shared: bytes, eph_pub: bytes, recipient_pub: bytes, sender: bytes, recipient: bytes) -> bytes:
    """HKDF-SHA256 as documented: salt binds both public keys, info binds both node ids."""
    return HKDF(hashes.SHA256(), KEY_LEN, eph_pub + recipient_pub, INFO_PREFIX + sender + recipient).derive(shared)


def seal(
    keys: NodeKeys,
    recipient: PeerKeys,
    kind: Kind,
    seq: int,
    payload: bytes,
    sent_at_ms: int | None = None,
) -> bytes:
    """Sign and encrypt `payload` for `recipient`.

    ValueError for a bad kind, seq or time (caller bugs); Oversized when the result would
    exceed MAX_ENVELOPE (split the batch).
    """
    sender_id, recipient_id = _node_id(keys.node), _node_id(recipient.node)
    kind = Kind(kind)
    if sent_at_ms is None:
        sent_at_ms = time.time_ns() // 1_000_000
    for name, value in (("seq", seq), ("sent_at_ms", sent_at_ms)):
        if not isinstance(value, int) or not 0 <= value <= MAX_U64:
            raise ValueError(f"{name} must be an integer in 0..2**64-1, got {value!r}")
    size = FIXED_OVERHEAD + len(sender_id) + len(recipient_id) + len(payload)
    if size > MAX_ENVELOPE:
        raise Oversized(f"envelope would be {size} bytes, over {MAX_ENVELOPE}")

    ephemeral = X25519PrivateKey.generate()
    ephemeral_pub = _raw(ephemeral.public_key())
    recipient_pub = _raw(recipient.enc_public)
    nonce = os.urandom(NONCE_LEN)
    header = b"".join((
        MAGIC, bytes((VERSION, kind, len(sender_id))), sender_id,
        bytes((len(recipient_id),)), recipient_id,
        seq.to_bytes(8, "big"), sent_at_ms.to_bytes(8, "big"), ephemeral_pub, nonce,
    ))  # fmt: skip
    key = _aead_key(ephemeral.exchange(recipient.enc_public), ephemeral_pub, recipient_pub, sender_id, recipient_id)
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, bytes(payload), header)
    signed = header + len(ciphertext).to_bytes(4, "big") + ciphertext
    return signed + keys.sign_private.sign(signed)


def open_envelope(
    data: bytes,
    keys: NodeKeys,
    directory: Mapping[str, PeerKeys],
    max_size: int = MAX_ENVELOPE,
) -> Opened:
    """Verify and decrypt an envelope addressed to `keys.node`.

    Checks, in order: size, structure, recipient, sender known, not revoked, signature,
    decryption. Raises only EnvelopeError subclasses, whatever the bytes. Does not check the
    sequence number: pass `Opened.seq` to `check_sequence` with the caller's saved state.
    """
    if len(data) > max_size:
        raise Oversized(f"{len(data)} bytes, over {max_size}")
    p = _parse(bytes(data))
    sender, recipient = p.sender.decode("ascii"), p.recipient.decode("ascii")
    if recipient != keys.node:
        raise WrongRecipient(f"addressed to {recipient}, this is {keys.node}")
    peer = directory.get(sender)
    if peer is None:
        raise UnknownSender(sender)
    if peer.revoked:
        raise RevokedSender(sender)
    try:
        peer.sign_public.verify(p.signature, p.signed)
    except InvalidSignature:
        raise BadSignature(f"from {sender}") from None
    try:
        shared = keys.enc_private.exchange(X25519PublicKey.from_public_bytes(p.ephemeral))
        key = _aead_key(shared, p.ephemeral, keys.enc_public_raw, p.sender, p.recipient)
        payload = ChaCha20Poly1305(key).decrypt(p.nonce, p.ciphertext, p.header)
    except (InvalidTag, ValueError):
        # ValueError: a low-order ephemeral point (all-zero shared secret).
        raise Undecryptable(f"from {sender}") from None
    return Opened(sender, recipient, p.kind, p.seq, p.sent_at_ms, payload)


def peek_header(data: bytes) -> tuple[str, str, Kind, int]:
    """(sender, recipient, kind, seq) read WITHOUT any verification: for logging only.

    Reads only the header fields, so it also works on oversized or truncated-body envelopes;
    Malformed when the header itself is bad.
    """
    sender, recipient, kind, seq, _ = _parse_header(_Reader(bytes(data[:256])))
    return sender.decode("ascii"), recipient.decode("ascii"), kind, seq


def check_sequence(last_accepted: int, seq: int) -> None:
    """Replayed unless `seq` is strictly above the last accepted seq from this sender.

    Gaps are allowed (lost envelopes are resent under new numbers). Start at last_accepted = 0,
    so the first seq is 1; save `seq` as the new last only after the payload is committed.
    """
    if seq <= last_accepted:
        raise Replayed(f"seq {seq} <= last accepted {last_accepted}")


def _rate(fn: Callable[[int], object]) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 1.0:
        n += 1
        fn(n)
    return n / (time.perf_counter() - start)


def _measure() -> None:
    alice, bob = NodeKeys.generate("central"), NodeKeys.generate("posko-bengkalis")
    to_bob = PeerKeys.from_directory_entry(bob.node, bob.directory_entry())
    directory = {alice.node: PeerKeys.from_directory_entry(alice.node, alice.directory_entry())}
    print(f"{alice.node!r} -> {bob.node!r}: overhead = {FIXED_OVERHEAD} + id lengths")
    for size in (0, 1024, 64 * 1024):
        payload = os.urandom(size)
        env = seal(alice, to_bob, Kind.CHANGES, 1, payload)
        seal_rate = _rate(lambda n, p=payload: seal(alice, to_bob, Kind.CHANGES, n, p))
        open_rate = _rate(lambda n, e=env: open_envelope(e, bob, directory))
        print(f"payload {size:6d} B -> {len(env):6d} B (+{len(env) - size}):", end=" ")
        print(f"seal {seal_rate:6.0f}/s, open {open_rate:6.0f}/s")


if __name__ == "__main__":
    _measure()
