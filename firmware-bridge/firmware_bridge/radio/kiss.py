"""KISS framing between the bridge and a TNC (Dire Wolf, or a hardware TNC on a serial port).

Why this exists: a TNC speaks KISS (Chepponis and Karn, 1987) over a serial line or TCP
socket, and that byte stream is where corruption shows up first: a TNC reset mid-frame,
line noise on a serial cable, a reconnect that starts in the middle of a frame. The decoder
here never raises on bad input: it resynchronises on the next FEND, drops what it could not
make sense of and counts it, so the daemon can log and report it and carry on.

Wire format: FEND, a command byte (high nibble = TNC port, low nibble = command; 0 = data
frame), the payload, FEND; FEND and FESC inside (the command byte included: port 12's data
command is 0xC0) are sent as FESC TFEND and FESC TFESC. A data frame's
payload is one AX.25 frame without its FCS. Pure functions and one small stateful decoder;
no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

FEND = 0xC0
FESC = 0xDB
TFEND = 0xDC
TFESC = 0xDD

CMD_DATA = 0x00
CMD_TXDELAY = 0x01
CMD_PERSIST = 0x02
CMD_SLOTTIME = 0x03
CMD_TXTAIL = 0x04
CMD_FULLDUPLEX = 0x05
CMD_SETHARDWARE = 0x06
CMD_RETURN = 0xFF  # whole byte, no port nibble: leave KISS mode

# Command byte + payload, after unescaping. An AX.25 frame with 256 info bytes and 8
# digipeaters is 328 bytes; Dire Wolf passes longer ones, so the default leaves room.
MAX_FRAME = 2048

_ESCAPES = {FEND: bytes((FESC, TFEND)), FESC: bytes((FESC, TFESC))}


@dataclass(frozen=True)
class KissFrame:
    """One decoded KISS frame: TNC port (0-15), command (low nibble; 0 = data) and payload."""

    port: int
    command: int
    payload: bytes


def escape(data: bytes) -> bytes:
    """Replace FEND and FESC by their two-byte escapes (no frame delimiters added)."""
    return bytes(data).replace(bytes((FESC,)), _ESCAPES[FESC]).replace(bytes((FEND,)), _ESCAPES[FEND])


def encode(payload: bytes, port: int = 0, command: int = CMD_DATA) -> bytes:
    """A complete KISS frame: FEND, command byte, escaped payload, FEND.

    ValueError for a port or command outside 0..15 (caller bugs).
    """
    if not 0 <= port <= 15:
        raise ValueError(f"KISS port must be 0..15, got {port!r}")
    if not 0 <= command <= 15:
        raise ValueError(f"KISS command must be 0..15, got {command!r}")
    # The command byte is escaped too: port 12's data command is 0xC0, the same as FEND.
    return bytes((FEND,)) + escape(bytes(((port << 4) | command,)) + bytes(payload)) + bytes((FEND,))


class Decoder:
    """Turns a byte stream, fed in chunks of any size, into KissFrames.

    Tolerant by design: bytes before the first FEND are skipped (`garbage` counts them),
    empty frames and back-to-back FENDs are ignored, and a frame with a bad escape or longer
    than `max_frame` is dropped whole and counted in `errors` (`bad_escapes`, `oversized`).
    `feed` never raises for any input.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be at least 1")
        self.max_frame = max_frame
        self.frames = 0
        self.bad_escapes = 0
        self.oversized = 0
        self.garbage = 0
        self._buf = bytearray()
        self._synced = False  # a FEND has been seen: we are between or inside frames
        self._escaped = False  # the previous byte was FESC
        self._dropping = False  # this frame is bad: skip to the next FEND

    @property
    def errors(self) -> int:
        """Frames dropped because they were corrupt (bad escape) or oversized."""
        return self.bad_escapes + self.oversized

    def reset(self) -> None:
        """Forget any partial frame, e.g. after a reconnect (counters are kept)."""
        self._buf.clear()
        self._synced = self._escaped = self._dropping = False

    def feed(self, data: bytes) -> list[KissFrame]:
        """Consume `data`; return the frames it completed, in order."""
        out: list[KissFrame] = []
        for byte in bytes(data):
            if byte == FEND:
                if self._escaped and not self._dropping:
                    self.bad_escapes += 1  # FESC FEND: the frame ends inside an escape
                elif self._buf and not self._dropping:
                    out.append(self._finish())
                self._buf.clear()
                self._synced, self._escaped, self._dropping = True, False, False
            elif not self._synced:
                self.garbage += 1
            elif self._dropping:
                continue
            elif self._escaped:
                self._escaped = False
                if byte == TFEND:
                    self._append(FEND)
                elif byte == TFESC:
                    self._append(FESC)
                else:
                    self.bad_escapes += 1
                    self._drop()
            elif byte == FESC:
                self._escaped = True
            else:
                self._append(byte)
        return out

    def _append(self, byte: int) -> None:
        if len(self._buf) >= self.max_frame:
            self.oversized += 1
            self._drop()
        else:
            self._buf.append(byte)

    def _drop(self) -> None:
        self._buf.clear()
        self._dropping = True

    def _finish(self) -> KissFrame:
        self.frames += 1
        cmd = self._buf[0]
        payload = bytes(self._buf[1:])
        if cmd == CMD_RETURN:
            return KissFrame(0, CMD_RETURN, payload)
        return KissFrame(cmd >> 4, cmd & 0x0F, payload)
