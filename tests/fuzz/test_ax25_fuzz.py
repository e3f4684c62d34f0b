"""Fuzzing AX.25 UI frame decoding beyond tests/bridge/test_ax25.py.

That file already decodes random bytes and round-trips encode_ui/decode. Added here: mutations
of valid frames (flips, cuts, inserted bytes, address-byte rewrites including the extension
and C/H bits, control/PID rewrites) and the full path from a damaged KISS stream through the
KISS decoder into AX.25 decode. Only Ax25Error may come out; whatever decodes is well formed.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.radio.ax25 import MAX_INFO, Ax25Error, UiFrame, decode, encode_ui, parse_call
from firmware_bridge.radio.kiss import Decoder, encode
from tests.fuzz.profile import FUZZ

CALL = st.builds(lambda base, ssid: f"{base}-{ssid}" if ssid else base,
                 st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6), st.integers(0, 15))
VALID = st.builds(encode_ui, CALL, CALL, st.binary(max_size=MAX_INFO), st.lists(CALL | CALL.map(lambda c: c + "*"),
                                                                                max_size=8))


def _check(frame: bytes) -> None:
    try:
        ui = decode(frame)
    except Ax25Error:
        return
    assert isinstance(ui, UiFrame) and len(ui.via) <= 8
    for call in (ui.dest, ui.source, *(v.rstrip("*") for v in ui.via)):
        parse_call(call)  # every decoded callsign is a valid one


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(VALID))
    for _ in range(draw(st.integers(1, 4))):
        n = len(frame)
        at = draw(st.integers(0, n - 1))
        how = draw(st.sampled_from(["flip", "cut", "insert", "address", "control"]))
        if how == "flip":
            frame[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del frame[draw(st.integers(0, n)) :]
        elif how == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=14))
        elif how == "address":  # the SSID byte of some address: extension, C/H and reserved bits
            slot = 7 * draw(st.integers(0, 9)) + 6
            if slot < len(frame):
                frame[slot] = draw(st.integers(0, 255))
        else:
            frame[min(at, n - 1)] = draw(st.sampled_from([0x03, 0x13, 0xF0, 0xFF, 0x00, 0x01]))
        if not frame:
            break
    return bytes(frame)


@FUZZ
@given(mutated())
def test_mutated_frames_raise_only_ax25_error(frame: bytes) -> None:
    _check(frame)


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=4), st.binary(max_size=30))
def test_kiss_then_ax25_pipeline(frames: list[bytes], noise: bytes) -> None:
    decoder = Decoder()
    for kiss in decoder.feed(noise + b"".join(encode(f) for f in frames)):
        _check(kiss.payload)
