"""Fuzzing the KISS decoder beyond tests/bridge/test_kiss.py.

That file already checks random noise then resync, and round trips across chunk boundaries.
Added here: mutated valid KISS streams (flips, dropped and inserted bytes, stray FEND/FESC),
fed in random chunks; the decoder must never raise, every frame it returns must respect
max_frame and its counters, and a clean frame after the damage must come through intact.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.radio.kiss import CMD_DATA, FEND, FESC, TFEND, TFESC, Decoder, KissFrame, encode
from tests.fuzz.profile import FUZZ

SPECIAL = [FEND, FESC, TFEND, TFESC, 0xFF, 0x00]


@st.composite
def damaged_streams(draw: st.DrawFn) -> bytes:
    payloads = draw(st.lists(st.binary(max_size=120) | st.lists(st.sampled_from(SPECIAL), max_size=30).map(bytes),
                             min_size=1, max_size=6))
    stream = bytearray(b"".join(encode(p, draw(st.integers(0, 15))) for p in payloads))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(stream)))
        how = draw(st.sampled_from(["flip", "drop", "insert", "special"]))
        if how == "flip" and at < len(stream):
            stream[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "drop":
            del stream[at : at + draw(st.integers(1, 5))]
        elif how == "insert":
            stream[at:at] = draw(st.binary(min_size=1, max_size=10))
        else:
            stream[at:at] = bytes([draw(st.sampled_from(SPECIAL))])
    return bytes(stream)


@FUZZ
@given(damaged_streams(), st.integers(1, 600), st.lists(st.integers(1, 50), min_size=1, max_size=10),
       st.binary(max_size=100))
def test_damaged_streams_never_raise_and_resync(stream: bytes, max_frame: int, chunks: list[int],
                                                after: bytes) -> None:
    decoder = Decoder(max_frame=max_frame)
    frames: list[KissFrame] = []
    at, i = 0, 0
    while at < len(stream):
        frames += decoder.feed(stream[at : at + chunks[i % len(chunks)]])
        at += chunks[i % len(chunks)]
        i += 1
    assert all(isinstance(f, KissFrame) and len(f.payload) < max_frame for f in frames)
    assert all(0 <= f.port <= 15 and (0 <= f.command <= 15 or f.command == 0xFF) for f in frames)
    assert decoder.frames == len(frames) and decoder.errors >= 0
    if len(after) + 1 < max_frame:
        tail = decoder.feed(bytes((FEND,)) + encode(after, 3))
        assert tail[-1] == KissFrame(3, CMD_DATA, after)


@FUZZ
@given(st.binary(max_size=500), st.integers(1, 50))
def test_any_bytes_in_any_chunks_equal_one_feed(data: bytes, step: int) -> None:
    """Chunking never changes what comes out, for garbage as much as for good frames."""
    whole, pieces = Decoder(), Decoder()
    chunked = [f for at in range(0, len(data), step) for f in pieces.feed(data[at : at + step])]
    assert chunked == whole.feed(data)
    assert (pieces.frames, pieces.errors) == (whole.frames, whole.errors)
