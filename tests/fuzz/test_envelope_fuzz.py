"""Fuzzing the sync envelope decoder and the payload codec (what the existing tests do not).

tests/sync/test_envelope.py already covers: random bytes into open_envelope/peek_header, one
bit flip, a valid prefix with a random tail, and seal/open round trips. Added here: stacked
mutations of valid envelopes (flips, cuts, insertions, field swaps, length-field rewrites),
the same mutations re-signed by a legitimate sender (so parsing reaches decryption), and the
codec (sync/codec.py decode_batch/decode_ack) on arbitrary bytes, arbitrary compressed JSON
and mutated valid batches, plus its round trip. Only EnvelopeError / BadPayload may come out.
"""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sync import codec
from sync.envelope import (
    EnvelopeError,
    Kind,
    NodeKeys,
    Opened,
    directory_from_json,
    open_envelope,
    peek_header,
    seal,
)
from sync.merge import Change
from tests.fuzz.profile import FUZZ

ALICE = NodeKeys.generate("posko-a")
BOB = NodeKeys.generate("central")
DIRECTORY = directory_from_json({k.node: k.directory_entry() for k in (ALICE, BOB)})
INT64 = 2**63


def _valid(kind: Kind, seq: int, payload: bytes) -> bytes:
    return seal(ALICE, DIRECTORY["central"], kind, seq, payload, sent_at_ms=1_700_000_000_000)


ENVELOPES = [_valid(Kind.CHANGES, 1, b""), _valid(Kind.ACK, 2, b"x" * 40), _valid(Kind.HELLO, 2**64 - 1, b"\x00" * 300)]


@st.composite
def mutated(draw: st.DrawFn, envelopes: list[bytes] = ENVELOPES) -> tuple[bytes, bytes]:
    """(original, mutated) after 1-4 random mutations."""
    original = draw(st.sampled_from(envelopes))
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "byte", "cut", "insert", "swap", "length", "dup"]))
        n = len(data)
        if n == 0:
            data += draw(st.binary(min_size=1, max_size=8))
            continue
        at = draw(st.integers(0, n - 1))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "byte":
            data[at] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[draw(st.integers(0, n)) :]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=70))
        elif how == "swap":  # two slices of the same length trade places (e.g. sender and recipient)
            size = draw(st.integers(1, max(1, n // 2)))
            a, b = draw(st.integers(0, n - size)), draw(st.integers(0, n - size))
            data[a : a + size], data[b : b + size] = data[b : b + size], data[a : a + size]
        elif how == "length":  # rewrite a length field: S, R or the 4-byte ciphertext length
            s = data[4] if n > 4 else 0
            spots = [4, 5 + s] + ([66 + s + data[5 + s]] if n > 5 + s else [])
            spot = draw(st.sampled_from(spots))
            width = 4 if spot == spots[-1] and len(spots) == 3 else 1
            value = draw(st.integers(0, 2 ** (8 * width) - 1))
            if spot + width <= n:
                data[spot : spot + width] = value.to_bytes(width, "big")
        else:  # "dup": a stretch repeated (a resent fragment glued on)
            end = draw(st.integers(at, n))
            data[end:end] = data[at:end]
    return original, bytes(data)


def _open_only_envelope_errors(data: bytes, original: bytes) -> Opened | None:
    try:
        opened = open_envelope(data, BOB, DIRECTORY)
    except EnvelopeError:
        return None
    assert data == original, "a changed envelope was accepted"
    return opened


@FUZZ
@given(mutated())
def test_mutated_envelopes_raise_only_envelope_errors(pair: tuple[bytes, bytes]) -> None:
    original, data = pair
    _open_only_envelope_errors(data, original)
    try:
        sender, recipient, kind, seq = peek_header(data)
    except EnvelopeError:
        return
    assert isinstance(kind, Kind) and 0 <= seq < 2**64 and sender and recipient


@FUZZ
@given(mutated())
@example((ENVELOPES[0], ENVELOPES[0][:-64] + bytes(64)))
def test_mutations_resigned_by_a_known_sender_raise_only_envelope_errors(pair: tuple[bytes, bytes]) -> None:
    """A legitimate node tampering: the signature is valid, so parsing goes on to decryption."""
    original, data = pair
    if len(data) > 64:
        body = data[:-64]
        data = body + ALICE.sign_private.sign(body)
    _open_only_envelope_errors(data, original)


@FUZZ
@given(st.binary(max_size=400))
def test_peek_header_on_a_valid_prefix_with_noise(noise: bytes) -> None:
    for cut in (2, 4, 5, 13, 14, 22, 40):
        try:
            peek_header(ENVELOPES[0][:cut] + noise)
        except EnvelopeError:
            pass


# --- the payload codec -----------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=20)
wire_change = st.lists(json_values, min_size=0, max_size=8) | st.tuples(
    st.text(max_size=70) | json_values, st.integers() | json_values, st.integers() | json_values,
    st.text(max_size=10) | json_values, st.text(max_size=70) | json_values,
    st.sampled_from(["insert", "update", "delete"]) | json_values,
    st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
).map(list)
payload_objects = json_values | st.fixed_dictionaries(
    {"upto": st.integers() | json_values}, optional={"c": st.lists(wire_change, max_size=4) | json_values,
                                                     "n": json_values})


def _pack_raw(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"))


def _decode_both(data: bytes) -> None:
    try:
        changes, upto = codec.decode_batch(data)
    except codec.BadPayload:
        pass
    else:
        assert 0 <= upto < INT64 and all(isinstance(c, Change) for c in changes)
        assert all(0 < c.origin_seq < INT64 and 0 <= c.hlc < INT64 for c in changes), "does not fit SQLite"
        for c in changes:  # every column value is one SQLite can bind (else apply_batch crashes)
            assert all(v is None or isinstance(v, bool | float | str) or -INT64 <= v < INT64 for v in c.data.values())
    try:
        upto = codec.decode_ack(data)
    except codec.BadPayload:
        pass
    else:
        assert isinstance(upto, int) and 0 <= upto < INT64, "does not fit SQLite"


@FUZZ
@given(st.binary(max_size=500))
def test_codec_arbitrary_bytes(data: bytes) -> None:
    _decode_both(data)
    _decode_both(zlib.compress(data))


@FUZZ
@given(payload_objects)
@example({"upto": 2**64})
@example({"upto": 1, "c": [["posko-a", 2**64, 1, "incident", "k", "insert", {"a": 1}]]})
@example({"upto": 1, "c": [["posko-a", 1, 1, "incident", "k", ["insert"], {"a": 1}]]})
@example({"upto": 1, "c": [["posko-a", 1, 1, "incident", "k", "insert", {"victims_count": 2**70}]]})
@example({"upto": 1, "c": [["posko-a", 1, 1, "incident", "k", "insert", {"victims_count": [1, 2]}]]})
def test_codec_arbitrary_json(obj: object) -> None:
    _decode_both(_pack_raw(json.dumps(obj)))


@FUZZ
@given(st.text(max_size=300))
@example("1" * 5000)
@example('{"upto": ' + "9" * 5000 + "}")
@example("[" * 100_000)
@example('"\\ud800"')
def test_codec_arbitrary_json_text(text: str) -> None:
    _decode_both(_pack_raw(text))


CHANGES = st.builds(
    Change, st.from_regex(r"[a-z0-9-]{1,64}", fullmatch=True), st.integers(1, INT64 - 1), st.integers(0, INT64 - 1),
    st.sampled_from(["incident", "dispatch", "event", "call"]), st.text(min_size=1, max_size=64),
    st.sampled_from(["insert", "update"]),
    st.dictionaries(st.text(max_size=10), st.none() | st.booleans() | st.integers(-INT64, INT64 - 1)
                    | st.floats(allow_nan=False) | st.text(max_size=20), min_size=1, max_size=5),
)


@FUZZ
@given(st.lists(CHANGES, max_size=6), st.integers(0, INT64 - 1), st.integers(0, INT64 - 1))
def test_codec_round_trip(changes: list[Change], upto: int, applied: int) -> None:
    assert codec.decode_batch(codec.encode_batch(changes, upto)) == (changes, upto)
    assert codec.decode_ack(codec.encode_ack(upto, applied)) == upto


@FUZZ
@given(st.lists(CHANGES, min_size=1, max_size=3), st.data())
def test_codec_mutated_valid_batches(changes: list[Change], data: st.DataObject) -> None:
    packed = bytearray(codec.encode_batch(changes, 5))
    for _ in range(data.draw(st.integers(1, 3))):
        packed[data.draw(st.integers(0, len(packed) - 1))] = data.draw(st.integers(0, 255))
    _decode_both(bytes(packed[: data.draw(st.integers(0, len(packed)))]))
    _decode_both(bytes(packed))


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, [1, 2], {"a": 1}])
def test_regression_column_values_sqlite_cannot_bind_are_bad_payload(value: object) -> None:
    """Found by fuzzing: such values decoded, then apply_batch crashed (OverflowError, ProgrammingError)."""
    item = ["posko-a", 1, 1, "incident", "k", "insert", {"victims_count": value}]
    with pytest.raises(codec.BadPayload, match="column value"):
        codec.decode_batch(_pack_raw(json.dumps({"upto": 1, "c": [item]})))


def test_zip_bomb_is_bad_payload() -> None:
    with pytest.raises(codec.BadPayload, match="beyond the limit"):
        codec.decode_batch(zlib.compress(b" " * (codec.MAX_INFLATED + 10)))
