"""The envelope codec: round trips, the documented byte layout, and every way a broker could tamper.

Keys are generated once per module (they are immutable); hypothesis drives payloads, sequence
numbers, bit flips and random input bytes.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.envelope import (
    MAX_ENVELOPE,
    BadSignature,
    EnvelopeError,
    Kind,
    Malformed,
    NodeKeys,
    Opened,
    Oversized,
    PeerKeys,
    Replayed,
    RevokedSender,
    Undecryptable,
    UnknownSender,
    WrongRecipient,
    check_sequence,
    directory_from_json,
    open_envelope,
    peek_header,
    seal,
)

ALICE = NodeKeys.generate("posko-a")  # sender
BOB = NodeKeys.generate("central")  # recipient
MALLORY = NodeKeys.generate("posko-m")  # a legitimate node turned hostile
DIRECTORY = directory_from_json(
    {k.node: k.directory_entry() for k in (ALICE, BOB, MALLORY)},
)
TO_BOB = DIRECTORY["central"]
U64 = st.integers(0, 2**64 - 1)


def layout(env: bytes) -> dict[str, slice]:
    """Field name -> byte range, per the table in docs/envelope.md."""
    s = env[4]
    r = env[5 + s]
    h = 6 + s + r + 16 + 32 + 12
    c = int.from_bytes(env[h : h + 4], "big")
    return {
        "magic": slice(0, 2),
        "version": slice(2, 3),
        "kind": slice(3, 4),
        "sender_len": slice(4, 5),
        "sender": slice(5, 5 + s),
        "recipient_len": slice(5 + s, 6 + s),
        "recipient": slice(6 + s, 6 + s + r),
        "seq": slice(6 + s + r, 14 + s + r),
        "sent_at_ms": slice(14 + s + r, 22 + s + r),
        "ephemeral": slice(22 + s + r, 54 + s + r),
        "nonce": slice(54 + s + r, h),
        "ct_len": slice(h, h + 4),
        "ciphertext": slice(h + 4, h + 4 + c),
        "signature": slice(h + 4 + c, h + 4 + c + 64),
    }


def replace(env: bytes, field: str, value: bytes) -> bytes:
    part = layout(env)[field]
    return env[: part.start] + value + env[part.stop :]


def resign(env: bytes, keys: NodeKeys) -> bytes:
    """Replace the signature with a valid one by `keys` (a legitimate node tampering)."""
    body = env[:-64]
    return body + keys.sign_private.sign(body)


def small() -> bytes:
    return seal(ALICE, TO_BOB, Kind.CHANGES, 7, b"hello", sent_at_ms=1_700_000_000_000)


# --- round trips and layout -------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(Kind), seq=U64, sent_at=U64, size=st.integers(0, 200 * 1024), seed=st.integers())
def test_round_trip_any_kind_size_seq(kind: Kind, seq: int, sent_at: int, size: int, seed: int) -> None:
    payload = random.Random(seed).randbytes(size)
    env = seal(ALICE, TO_BOB, kind, seq, payload, sent_at_ms=sent_at)
    assert open_envelope(env, BOB, DIRECTORY) == Opened("posko-a", "central", kind, seq, sent_at, payload)
    assert peek_header(env) == ("posko-a", "central", kind, seq)


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=4096))
def test_round_trip_structured_payloads(payload: bytes) -> None:
    assert open_envelope(seal(ALICE, TO_BOB, Kind.ACK, 1, payload), BOB, DIRECTORY).payload == payload


@pytest.mark.parametrize("size", [0, 1, 1024, 200 * 1024])
def test_round_trip_edge_sizes(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    opened = open_envelope(seal(ALICE, TO_BOB, Kind.HELLO, 2**64 - 1, payload), BOB, DIRECTORY)
    assert (opened.payload, opened.seq, opened.kind) == (payload, 2**64 - 1, Kind.HELLO)


def test_sent_at_defaults_to_now() -> None:
    import time

    before = time.time_ns() // 1_000_000
    opened = open_envelope(seal(ALICE, TO_BOB, Kind.ACK, 1, b""), BOB, DIRECTORY)
    assert before <= opened.sent_at_ms <= time.time_ns() // 1_000_000


def test_byte_layout_matches_docs() -> None:
    env = seal(ALICE, TO_BOB, Kind.ACK, 0x0102030405060708, b"x" * 10, sent_at_ms=0x1112131415161718)
    f = {name: env[part] for name, part in layout(env).items()}
    assert f["magic"] == b"S1" and f["version"] == b"\x01" and f["kind"] == b"\x02"
    assert f["sender_len"] == b"\x07" and f["sender"] == b"posko-a"
    assert f["recipient_len"] == b"\x07" and f["recipient"] == b"central"
    assert f["seq"] == bytes.fromhex("0102030405060708")
    assert f["sent_at_ms"] == bytes.fromhex("1112131415161718")
    assert f["ct_len"] == (10 + 16).to_bytes(4, "big") and len(f["ciphertext"]) == 26
    assert layout(env)["signature"].stop == len(env)
    assert len(env) == 150 + 7 + 7 + 10  # fixed overhead + ids + payload
    # The signature covers every preceding byte.
    ALICE.sign_private.public_key().verify(f["signature"], env[:-64])


def test_key_derivation_matches_docs() -> None:
    """An independent decryption following docs/envelope.md recovers the payload."""
    env = seal(ALICE, TO_BOB, Kind.CHANGES, 5, b"documented")
    f = {name: env[part] for name, part in layout(env).items()}
    shared = BOB.enc_private.exchange(X25519PublicKey.from_public_bytes(f["ephemeral"]))
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=f["ephemeral"] + BOB.enc_public_raw,
        info=b"siaga112 envelope v1" + b"posko-a" + b"central",
    ).derive(shared)
    header = env[: layout(env)["ct_len"].start]
    assert ChaCha20Poly1305(key).decrypt(f["nonce"], f["ciphertext"], header) == b"documented"


def test_two_seals_of_same_payload_differ() -> None:
    a = seal(ALICE, TO_BOB, Kind.CHANGES, 1, b"same", sent_at_ms=1)
    b = seal(ALICE, TO_BOB, Kind.CHANGES, 1, b"same", sent_at_ms=1)
    assert a != b
    assert a[layout(a)["ephemeral"]] != b[layout(b)["ephemeral"]]
    assert a[layout(a)["nonce"]] != b[layout(b)["nonce"]]
    assert open_envelope(a, BOB, DIRECTORY) == open_envelope(b, BOB, DIRECTORY)


def test_peek_header_needs_no_keys_and_ignores_the_body() -> None:
    env = seal(MALLORY, DIRECTORY["posko-a"], Kind.HELLO, 42, b"")
    assert peek_header(env) == ("posko-m", "posko-a", Kind.HELLO, 42)
    assert peek_header(env[:60]) == ("posko-m", "posko-a", Kind.HELLO, 42)
    with pytest.raises(Malformed):
        peek_header(b"S2" + env[2:])


# --- who may open -----------------------------------------------------------------------------


def test_other_recipient_name_is_wrong_recipient() -> None:
    with pytest.raises(WrongRecipient):
        open_envelope(small(), MALLORY, DIRECTORY)


def test_same_name_different_key_is_undecryptable() -> None:
    """Bob's name, a key that is not Bob's (stale directory or a restored node with new keys)."""
    impostor_bob = NodeKeys("central", BOB.sign_private, X25519PrivateKey.generate())
    with pytest.raises(Undecryptable):
        open_envelope(small(), impostor_bob, DIRECTORY)
    # And the reverse: sealed for a stale enc key under Bob's name, Bob cannot read it.
    stale = PeerKeys("central", TO_BOB.sign_public, X25519PrivateKey.generate().public_key())
    with pytest.raises(Undecryptable):
        open_envelope(seal(ALICE, stale, Kind.CHANGES, 1, b"x"), BOB, DIRECTORY)


def test_forgery_under_real_senders_name_is_bad_signature() -> None:
    forger = NodeKeys.generate("posko-a")
    with pytest.raises(BadSignature):
        open_envelope(seal(forger, TO_BOB, Kind.CHANGES, 99, b"fake case"), BOB, DIRECTORY)


def test_unknown_sender() -> None:
    with pytest.raises(UnknownSender):
        open_envelope(seal(NodeKeys.generate("stranger"), TO_BOB, Kind.HELLO, 1, b""), BOB, DIRECTORY)


def test_revoked_sender_even_with_valid_signature() -> None:
    entries = {k.node: k.directory_entry() for k in (ALICE, BOB)}
    entries["posko-a"]["revoked"] = True
    directory = directory_from_json(entries)
    assert directory["posko-a"].revoked
    with pytest.raises(RevokedSender):
        open_envelope(small(), BOB, directory)


def test_ciphertext_lifted_by_another_node_is_undecryptable() -> None:
    """Mallory relabels Alice's envelope as her own and re-signs it: sender is bound into the AEAD."""
    env = small()
    lifted = resign(bytes([env[0], env[1], env[2], env[3], 7]) + b"posko-m" + env[12:], MALLORY)
    assert peek_header(lifted)[0] == "posko-m"
    with pytest.raises(Undecryptable):
        open_envelope(lifted, BOB, DIRECTORY)


def test_header_moved_onto_another_body_is_undecryptable_even_if_resigned() -> None:
    one = seal(ALICE, TO_BOB, Kind.CHANGES, 1, b"first")
    two = seal(ALICE, TO_BOB, Kind.CHANGES, 2, b"second")
    mixed = one[: layout(one)["ct_len"].start] + two[layout(two)["ct_len"].start :]
    with pytest.raises(BadSignature):
        open_envelope(mixed, BOB, DIRECTORY)
    with pytest.raises(Undecryptable):
        open_envelope(resign(mixed, ALICE), BOB, DIRECTORY)
    # Changing only the seq (re-signed) also breaks decryption: the header is associated data.
    with pytest.raises(Undecryptable):
        open_envelope(resign(replace(one, "seq", (5).to_bytes(8, "big")), ALICE), BOB, DIRECTORY)


def test_low_order_ephemeral_key_is_undecryptable_not_value_error() -> None:
    env = resign(replace(small(), "ephemeral", bytes(32)), ALICE)
    with pytest.raises(Undecryptable):
        open_envelope(env, BOB, DIRECTORY)


# --- tampering and garbage --------------------------------------------------------------------


def expected_for_flip(env: bytes, pos: int) -> tuple[type[EnvelopeError], ...]:
    f = layout(env)
    if f["sender_len"].start <= pos < f["sender"].stop:
        return (Malformed, UnknownSender)
    if f["recipient_len"].start <= pos < f["recipient"].stop:
        return (Malformed, WrongRecipient)
    return (Malformed, BadSignature)


def assert_flip_rejected(env: bytes, pos: int, bit: int) -> None:
    flipped = bytearray(env)
    flipped[pos] ^= 1 << bit
    with pytest.raises(EnvelopeError) as info:
        open_envelope(bytes(flipped), BOB, DIRECTORY)
    assert isinstance(info.value, expected_for_flip(env, pos)), (pos, bit, info.value)


def test_every_single_bit_flip_of_a_small_envelope_is_rejected() -> None:
    env = small()
    for pos in range(len(env)):
        for bit in range(8):
            assert_flip_rejected(env, pos, bit)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), payload=st.binary(min_size=0, max_size=2048))
def test_bit_flip_anywhere_is_rejected(data: st.DataObject, payload: bytes) -> None:
    env = seal(ALICE, TO_BOB, Kind.CHANGES, 3, payload)
    pos = data.draw(st.integers(0, len(env) - 1))
    assert_flip_rejected(env, pos, data.draw(st.integers(0, 7)))


def test_every_truncation_is_malformed() -> None:
    env = small()
    for n in range(len(env)):
        with pytest.raises(Malformed):
            open_envelope(env[:n], BOB, DIRECTORY)
    with pytest.raises(Malformed):
        open_envelope(env + b"\x00", BOB, DIRECTORY)


def test_oversized_is_rejected_before_parsing() -> None:
    with pytest.raises(Oversized):
        open_envelope(b"\xff" * (MAX_ENVELOPE + 1), BOB, DIRECTORY)  # garbage: parsing would say Malformed
    env = small()
    with pytest.raises(Oversized):
        open_envelope(env, BOB, DIRECTORY, max_size=len(env) - 1)
    assert open_envelope(env, BOB, DIRECTORY, max_size=len(env)).payload == b"hello"


def test_seal_refuses_what_receivers_would_refuse() -> None:
    with pytest.raises(Oversized):
        seal(ALICE, TO_BOB, Kind.CHANGES, 1, bytes(MAX_ENVELOPE))
    fits = MAX_ENVELOPE - (150 + 7 + 7)
    assert len(seal(ALICE, TO_BOB, Kind.CHANGES, 1, bytes(fits))) == MAX_ENVELOPE
    with pytest.raises(ValueError):
        seal(ALICE, TO_BOB, Kind.CHANGES, -1, b"")
    with pytest.raises(ValueError):
        seal(ALICE, TO_BOB, Kind.CHANGES, 2**64, b"")
    with pytest.raises(ValueError):
        seal(ALICE, TO_BOB, 9, 1, b"")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_id", [b"", b"Central", b"pusat_1", b"a" * 65, b"pos\xc3\xa9", b"a\n"])
def test_bad_node_ids_are_malformed_even_when_signed(bad_id: bytes) -> None:
    env = small()
    forged = resign(env[:4] + bytes([len(bad_id)]) + bad_id + env[12:], ALICE)
    with pytest.raises(Malformed):
        open_envelope(forged, BOB, DIRECTORY)
    with pytest.raises(Malformed):
        peek_header(forged)


@pytest.mark.parametrize(
    ("field", "value"),
    [("magic", b"S2"), ("version", b"\x02"), ("kind", b"\x00"), ("kind", b"\x06"), ("ct_len", bytes(4))],
)
def test_bad_fixed_fields_are_malformed(field: str, value: bytes) -> None:
    with pytest.raises(Malformed):
        open_envelope(replace(small(), field, value), BOB, DIRECTORY)


def test_ciphertext_shorter_than_its_tag_is_malformed_even_when_signed() -> None:
    env = small()
    f = layout(env)
    short = env[: f["ct_len"].start] + (8).to_bytes(4, "big") + env[f["ciphertext"]][:8] + bytes(64)
    with pytest.raises(Malformed):
        open_envelope(resign(short, ALICE), BOB, DIRECTORY)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_envelope_errors(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        open_envelope(data, BOB, DIRECTORY)
    try:
        peek_header(data)
    except EnvelopeError:
        pass


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, 200), tail=st.binary(max_size=300))
def test_valid_prefix_with_random_tail_only_raises_envelope_errors(cut: int, tail: bytes) -> None:
    env = small()
    data = env[:cut] + tail
    if data == env:
        return
    with pytest.raises(EnvelopeError):
        open_envelope(data, BOB, DIRECTORY)


# --- sequence numbers -------------------------------------------------------------------------


def test_check_sequence_rules() -> None:
    check_sequence(0, 1)  # first envelope
    check_sequence(5, 6)
    check_sequence(5, 1000)  # gaps are fine
    for seq in (0, 4, 5):
        with pytest.raises(Replayed):
            check_sequence(5, seq)
    with pytest.raises(Replayed):
        check_sequence(0, 0)
    assert issubclass(Replayed, EnvelopeError)


def test_replayed_envelope_opens_but_its_seq_is_caught() -> None:
    """The codec is stateless; the caller's saved seq catches the replay."""
    last = 0
    env = seal(ALICE, TO_BOB, Kind.CHANGES, 1, b"batch")
    opened = open_envelope(env, BOB, DIRECTORY)
    check_sequence(last, opened.seq)
    last = opened.seq
    with pytest.raises(Replayed):
        check_sequence(last, open_envelope(env, BOB, DIRECTORY).seq)


# --- keys and directory -----------------------------------------------------------------------


def test_directory_entry_round_trip_and_validation() -> None:
    entry = ALICE.directory_entry()
    peer = PeerKeys.from_directory_entry("posko-a", entry)
    assert len(ALICE.sign_public_raw) == len(ALICE.enc_public_raw) == 32
    assert peer.revoked is False
    for broken in (
        {**entry, "sign_pub": "not base64!"},
        {**entry, "enc_pub": "AAAA"},  # 3 bytes
        {**entry, "revoked": "false"},
        {"enc_pub": entry["enc_pub"]},
    ):
        with pytest.raises(ValueError):
            PeerKeys.from_directory_entry("posko-a", broken)
    with pytest.raises(ValueError):
        NodeKeys.generate("Posko A")
    with pytest.raises(ValueError):
        directory_from_json({"BAD": entry})
