"""AX.25 v2.2 UI frames: the unconnected "datagram" frames that carry dispatches by radio.

Why this exists: a KISS TNC moves whole AX.25 frames; the bridge only needs UI frames (no
connected mode, no windowing: our own ReliableChannel retries and acknowledges), so this
module encodes and strictly decodes exactly those. Anything else on the channel (connected
mode traffic, garbage from a noisy decoder, a frame cut short) raises Ax25Error, the one
exception it raises, so the caller can log and skip it.

Frame layout as passed through KISS (the TNC adds and checks the FCS):

    dest (7)  source (7)  [via (7) x 0..8]  control 0x03  PID 0xF0  info (0..256)

Each address is six ASCII characters, space padded, every byte shifted left by one, then
an SSID byte `C R R S S S S E`: C is the command/response bit (dest 1, source 0 for a
command frame) or for a digipeater the has-been-repeated bit H, R R are reserved (1 1),
SSSS the SSID 0-15 and E the extension bit, set on the last address only.
Callsigns are written "CALL" or "CALL-N"; a repeated digipeater as "CALL-N*".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_INFO = 256  # N1 default; Dire Wolf does not enforce it but hardware TNCs do
MAX_VIA = 8
CONTROL_UI = 0x03
PF_BIT = 0x10
PID_NO_L3 = 0xF0
ADDR_LEN = 7
HEADER_LEN = 2 * ADDR_LEN + 2  # dest, source, control, PID (no digipeaters)

_CALL = re.compile(r"([A-Z0-9]{1,6})(?:-(1[0-5]|[1-9]|0))?")


class Ax25Error(ValueError):
    """A frame or callsign that is not a well-formed AX.25 UI frame or address."""


@dataclass(frozen=True)
class UiFrame:
    """A decoded UI frame; callsigns normalised ("N0CALL", "YB5XYZ-7", via "WIDE1-1*")."""

    dest: str
    source: str
    via: tuple[str, ...]
    info: bytes
    pid: int = PID_NO_L3


def parse_call(call: str) -> tuple[str, int]:
    """("YB5XYZ", 7) from "yb5xyz-7"; Ax25Error unless 1-6 letters/digits and SSID 0-15."""
    if not isinstance(call, str):
        raise Ax25Error(f"callsign must be a string, got {type(call).__name__}")
    match = _CALL.fullmatch(call.strip().upper())
    if not match:
        raise Ax25Error(f"bad callsign {call!r}: 1-6 letters or digits, optional -SSID 0-15")
    return match.group(1), int(match.group(2) or 0)


def normalise_call(call: str) -> str:
    """The canonical spelling of a callsign: upper case, "-0" dropped."""
    base, ssid = parse_call(call)
    return f"{base}-{ssid}" if ssid else base


def _encode_address(call: str, high_bit: bool, last: bool) -> bytes:
    base, ssid = parse_call(call)
    shifted = bytes(ord(c) << 1 for c in base.ljust(6))
    return shifted + bytes(((0x80 if high_bit else 0) | 0x60 | (ssid << 1) | (1 if last else 0),))


def _decode_address(raw: bytes) -> tuple[str, bool, bool]:
    """(callsign, C/H bit, extension bit) of one 7-byte address field."""
    if any(b & 1 for b in raw[:6]):
        raise Ax25Error("extension bit set inside a callsign")
    text = bytes(b >> 1 for b in raw[:6]).decode("ascii")
    base = text.rstrip(" ")
    if not re.fullmatch(r"[A-Z0-9]{1,6}", base):
        raise Ax25Error(f"bad callsign characters {text!r}")
    ssid_byte = raw[6]
    ssid = (ssid_byte >> 1) & 0x0F
    return (f"{base}-{ssid}" if ssid else base), bool(ssid_byte & 0x80), bool(ssid_byte & 1)


def encode_ui(dest: str, source: str, info: bytes, via: Sequence[str] = ()) -> bytes:
    """A UI command frame (control 0x03, PID 0xF0) ready for KISS; no FCS.

    Ax25Error for a bad callsign, more than 8 digipeaters or more than MAX_INFO info bytes.
    A digipeater written "CALL*" is marked as already repeated.
    """
    info = bytes(info)
    if len(info) > MAX_INFO:
        raise Ax25Error(f"info field is {len(info)} bytes, over {MAX_INFO}")
    via = list(via)
    if len(via) > MAX_VIA:
        raise Ax25Error(f"{len(via)} digipeaters, at most {MAX_VIA}")
    parts = [_encode_address(dest, True, False), _encode_address(source, False, not via)]
    for i, hop in enumerate(via):
        repeated = isinstance(hop, str) and hop.endswith("*")
        parts.append(_encode_address(hop[:-1] if repeated else hop, repeated, i == len(via) - 1))
    return b"".join(parts) + bytes((CONTROL_UI, PID_NO_L3)) + info


def decode(frame: bytes) -> UiFrame:
    """Parse a UI frame as received from KISS; Ax25Error for anything else or anything malformed."""
    frame = bytes(frame)
    if len(frame) < HEADER_LEN:
        raise Ax25Error(f"frame of {len(frame)} bytes is shorter than the {HEADER_LEN}-byte minimum")
    calls: list[str] = []
    pos = 0
    while True:
        if len(calls) == 2 + MAX_VIA:
            raise Ax25Error(f"more than {MAX_VIA} digipeaters")
        if pos + ADDR_LEN > len(frame):
            raise Ax25Error("address field runs past the end of the frame")
        call, high, last = _decode_address(frame[pos : pos + ADDR_LEN])
        pos += ADDR_LEN
        calls.append(call + ("*" if high and len(calls) >= 2 else ""))
        if last:
            break
    if len(calls) < 2:
        raise Ax25Error("extension bit set on the destination address: no source")
    if pos + 2 > len(frame):
        raise Ax25Error("no control and PID bytes after the addresses")
    control, pid = frame[pos], frame[pos + 1]
    if control & ~PF_BIT != CONTROL_UI:
        raise Ax25Error(f"control 0x{control:02x} is not a UI frame")
    if pid == 0xFF:
        raise Ax25Error("escaped PID (0xFF) is not supported")
    return UiFrame(calls[0], calls[1], tuple(calls[2:]), frame[pos + 2 :], pid)


def frame_bits(info_len: int, via: int = 0) -> int:
    """On-air bits of a UI frame: flags, header, info and FCS, with a bit-stuffing estimate.

    HDLC inserts a 0 after five 1s; for text and typical headers that is about 1 bit in 62
    (random data 1 in 32 is the worst sensible case, all-ones 1 in 5 the theoretical worst).
    Two flags: one opening (TXDELAY flags are counted as time separately) and one closing.
    """
    body = (HEADER_LEN + via * ADDR_LEN + info_len + 2) * 8  # + 2 bytes FCS
    return body + body // 62 + 2 * 8


def airtime_seconds(info_len: int, baud: int = 1200, txdelay: float = 0.3, txtail: float = 0.1,
                    via: int = 0) -> float:
    """Seconds the transmitter is keyed for one UI frame (AFSK 1200: one bit per baud)."""
    return txdelay + frame_bits(info_len, via) / baud + txtail
