"""KISS framing: the escapes as published, round trips across any chunking, and a decoder
that survives garbage, bad escapes and oversized frames without raising."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.radio.kiss import (
    CMD_DATA,
    CMD_TXDELAY,
    FEND,
    FESC,
    TFEND,
    TFESC,
    Decoder,
    KissFrame,
    encode,
    escape,
)


def test_escapes_fend_and_fesc_as_the_spec_says() -> None:
    assert escape(bytes((0x41, FEND, 0x42, FESC, 0x43))) == bytes((0x41, FESC, TFEND, 0x42, FESC, TFESC, 0x43))
    # TFEND and TFESC on their own are ordinary bytes
    assert escape(bytes((TFEND, TFESC))) == bytes((TFEND, TFESC))


def test_encode_frames_with_port_nibble() -> None:
    assert encode(b"AB") == bytes((FEND, 0x00, 0x41, 0x42, FEND))
    assert encode(b"\xc0", port=3) == bytes((FEND, 0x30, FESC, TFEND, FEND))
    assert encode(b"\x1e", port=1, command=CMD_TXDELAY) == bytes((FEND, 0x11, 0x1E, FEND))
    assert encode(b"", port=12) == bytes((FEND, FESC, TFEND, FEND))  # command byte 0xC0 is escaped too
    with pytest.raises(ValueError):
        encode(b"x", port=16)
    with pytest.raises(ValueError):
        encode(b"x", command=16)


def test_decodes_port_and_command() -> None:
    frames = Decoder().feed(encode(b"\xdb\xc0", port=2) + encode(b"\x20", command=CMD_TXDELAY))
    assert frames == [KissFrame(2, CMD_DATA, b"\xdb\xc0"), KissFrame(0, CMD_TXDELAY, b"\x20")]


def test_leading_garbage_empty_frames_and_back_to_back_fends() -> None:
    d = Decoder()
    data = b"noise\x01\x02" + bytes((FEND, FEND, FEND)) + encode(b"one") + bytes((FEND,)) + encode(b"two")
    assert [f.payload for f in d.feed(data)] == [b"one", b"two"]
    assert d.garbage == 7 and d.errors == 0


def test_bad_escape_drops_only_that_frame_and_is_counted() -> None:
    d = Decoder()
    bad = bytes((FEND, 0x00, 0x41, FESC, 0x41, 0x42, FEND))
    out = d.feed(encode(b"before") + bad + encode(b"after"))
    assert [f.payload for f in out] == [b"before", b"after"]
    assert d.errors == 1 and d.bad_escapes == 1


def test_escape_cut_by_fend_is_a_bad_escape() -> None:
    d = Decoder()
    assert d.feed(bytes((FEND, 0x00, 0x41, FESC, FEND)) + encode(b"ok")) == [KissFrame(0, 0, b"ok")]
    assert d.bad_escapes == 1


def test_oversized_frame_is_dropped_and_decoder_resyncs() -> None:
    d = Decoder(max_frame=10)
    out = d.feed(encode(b"x" * 50) + encode(b"y" * 9))
    assert out == [KissFrame(0, 0, b"y" * 9)]
    assert d.oversized == 1 and d.errors == 1


def test_partial_frame_is_kept_across_feeds_and_forgotten_on_reset() -> None:
    d = Decoder()
    frame = encode(b"hello")
    assert d.feed(frame[:4]) == []
    assert d.feed(frame[4:]) == [KissFrame(0, 0, b"hello")]
    d.feed(frame[:4])
    d.reset()
    assert d.feed(frame[4:]) == []  # the rest of a frame after reset is garbage, not a frame
    assert d.feed(frame) == [KissFrame(0, 0, b"hello")]


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    ports=st.lists(st.integers(0, 15), min_size=8, max_size=8),
    cuts=st.lists(st.integers(0, 3000), max_size=20),
)
def test_round_trip_across_arbitrary_chunking(payloads: list[bytes], ports: list[int], cuts: list[int]) -> None:
    stream = b"".join(encode(p, port) for p, port in zip(payloads, ports, strict=False))
    bounds = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    d = Decoder()
    out: list[KissFrame] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        out += d.feed(stream[a:b])
    assert out == [KissFrame(port, CMD_DATA, p) for p, port in zip(payloads, ports, strict=False)]
    assert d.errors == 0


@given(st.binary(max_size=2000), st.binary(max_size=100))
def test_fuzz_never_raises_and_recovers(noise: bytes, payload: bytes) -> None:
    d = Decoder(max_frame=512)
    frames = d.feed(noise)
    assert all(isinstance(f, KissFrame) and len(f.payload) < 512 for f in frames)
    # whatever came before, a FEND resynchronises: the next good frame comes through intact
    # (the FEND may also close a frame the noise left open, so look at the last one)
    assert d.feed(bytes((FEND,)) + encode(payload, 5))[-1] == KissFrame(5, CMD_DATA, payload)
