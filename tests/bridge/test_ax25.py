"""AX.25 UI frames: the address bytes as the spec lays them out, round trips, strict decoding
(only Ax25Error whatever the bytes) and the airtime estimate against measured Dire Wolf figures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.radio.ax25 import (
    MAX_INFO,
    Ax25Error,
    UiFrame,
    airtime_seconds,
    decode,
    encode_ui,
    normalise_call,
    parse_call,
)


def test_header_bytes_match_the_spec() -> None:
    frame = encode_ui("APRS", "N0CALL-7", b"hi")
    assert frame[:7] == bytes((0x82, 0xA0, 0xA4, 0xA6, 0x40, 0x40, 0xE0))  # "APRS  " << 1, C=1, SSID 0
    assert frame[7:14] == bytes((0x9C, 0x60, 0x86, 0x82, 0x98, 0x98, 0x6F))  # SSID 7, C=0, last address
    assert frame[14:] == b"\x03\xf0hi"


def test_via_sets_extension_bit_on_last_and_h_bit_on_repeated() -> None:
    frame = encode_ui("BPBD", "POSKO1", b"x", via=["WIDE1-1*", "WIDE2-2"])
    assert frame[13] & 1 == 0  # source is no longer the last address
    assert frame[20] == 0x80 | 0x60 | (1 << 1)  # WIDE1-1 repeated, not last
    assert frame[27] == 0x60 | (2 << 1) | 1  # WIDE2-2 last
    assert decode(frame) == UiFrame("BPBD", "POSKO1", ("WIDE1-1*", "WIDE2-2"), b"x")


@pytest.mark.parametrize("call, expected", [("n0call", ("N0CALL", 0)), ("YB5XYZ-15", ("YB5XYZ", 15)),
                                            ("A-0", ("A", 0)), (" yc1abc-9 ", ("YC1ABC", 9))])
def test_callsigns_accepted(call: str, expected: tuple[str, int]) -> None:
    assert parse_call(call) == expected


@pytest.mark.parametrize("call", ["", "TOOLONG7", "AB-16", "AB-01", "AB_C", "AB-", "ÄB", "AB C", "-1"])
def test_bad_callsigns_rejected(call: str) -> None:
    with pytest.raises(Ax25Error):
        encode_ui(call, "N0CALL", b"")


def test_info_limit_enforced_on_encode() -> None:
    assert decode(encode_ui("A", "B", b"x" * MAX_INFO)).info == b"x" * MAX_INFO
    with pytest.raises(Ax25Error, match="over 256"):
        encode_ui("A", "B", b"x" * (MAX_INFO + 1))
    with pytest.raises(Ax25Error):
        encode_ui("A", "B", b"", via=["D"] * 9)


def test_decode_rejects_non_ui_and_malformed() -> None:
    good = encode_ui("DEST", "SRC", b"info")
    with pytest.raises(Ax25Error, match="shorter"):
        decode(good[:15])
    with pytest.raises(Ax25Error, match="not a UI"):
        decode(good[:14] + b"\x00\xf0info")  # an I frame
    with pytest.raises(Ax25Error, match="no source"):
        decode(good[:6] + bytes((good[6] | 1,)) + good[7:])
    with pytest.raises(Ax25Error, match="callsign"):
        decode(bytes((ord("a") << 1,)) + good[1:])  # lower case is not a valid address character
    with pytest.raises(Ax25Error, match="extension bit"):
        decode(bytes((good[0] | 1,)) + good[1:])
    unterminated = b"".join(encode_ui("A", "B", b"")[:7] for _ in range(12))
    with pytest.raises(Ax25Error):
        decode(unterminated + b"\x03\xf0")
    assert decode(good[:14] + b"\x13\xf0info").info == b"info"  # P/F bit set is still UI


CALL = st.builds(lambda base, ssid: f"{base}-{ssid}" if ssid else base,
                 st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6), st.integers(0, 15))


@given(CALL, CALL, st.binary(max_size=MAX_INFO), st.lists(CALL, max_size=8))
def test_round_trip(dest: str, source: str, info: bytes, via: list[str]) -> None:
    frame = decode(encode_ui(dest, source, info, via))
    assert frame == UiFrame(normalise_call(dest), normalise_call(source), tuple(via), info)


@given(st.binary(max_size=400))
def test_fuzz_decode_raises_only_ax25error(data: bytes) -> None:
    try:
        frame = decode(data)
    except Ax25Error:
        return
    assert isinstance(frame, UiFrame)


@pytest.mark.parametrize("info, measured", [(1, 0.54), (200, 1.89), (256, 2.27), (1024, 7.47)])
def test_airtime_matches_measured_dire_wolf_figures(info: int, measured: float) -> None:
    # shared notes: 1200 baud, TXDELAY 300 ms, TXTAIL 100 ms, measured with two Dire Wolf TNCs
    assert airtime_seconds(info) == pytest.approx(measured, abs=0.03)
