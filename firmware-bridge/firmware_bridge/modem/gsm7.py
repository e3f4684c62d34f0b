"""The GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet and septet packing: pure functions.

Why this exists: an SMS carries 160 characters only when they are written in the GSM
default alphabet, 7 bits each, packed eight to seven octets. Which characters fit, which
cost two septets (the extension table, reached through the escape septet 0x1B), and how the
septets are packed after a user data header decide whether a dispatch fits one SMS. The
PDU codec (`pdu.py`) and the dispatch format both count on this module for that answer.

- `to_septets` / `from_septets` map text to septet values and back (the default table plus
  the extension table: form feed and `^ { } \\ [ ~ ] | €`);
- `pack` / `unpack` pack septets LSB first into octets, optionally after `fill_bits` zero
  bits (the padding that puts the first septet on a septet boundary after a header);
- `split_septets` cuts a long message into parts without separating an escape from the
  character it introduces.

Only the default alphabet and its extension table are produced; national language shift
tables (TS 23.038 6.2.1.2.4) are not used, so every phone can read what we send.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ESCAPE = 0x1B

# The 128 characters of the default alphabet, indexed by septet value. 0x1B is the escape to
# the extension table; decoding an escape not followed by an extension character shows a
# space (TS 23.038 note to 6.2.1.1).
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(DEFAULT_ALPHABET) == 128

# Extension table: septet after the escape -> character. Each costs two septets.
EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE: dict[str, tuple[int, ...]] = {ch: (i,) for i, ch in enumerate(DEFAULT_ALPHABET) if i != ESCAPE}
_ENCODE.update({ch: (ESCAPE, code) for code, ch in EXTENSION.items()})


class NotGsm7(ValueError):
    """The text holds a character that neither the default alphabet nor its extension table has."""

    def __init__(self, char: str, position: int) -> None:
        super().__init__(f"character {char!r} (U+{ord(char):04X}) at {position} is not in the GSM 7-bit alphabet")
        self.char = char
        self.position = position


def is_gsm7(text: str) -> bool:
    """True when every character of `text` can be sent in the GSM 7-bit alphabet."""
    return all(ch in _ENCODE for ch in text)


def to_septets(text: str) -> list[int]:
    """Septet values for `text`; extension characters become the two septets 0x1B, code."""
    out: list[int] = []
    for position, ch in enumerate(text):
        code = _ENCODE.get(ch)
        if code is None:
            raise NotGsm7(ch, position)
        out.extend(code)
    return out


def from_septets(septets: Iterable[int]) -> str:
    """Text for septet values; an escape before an unknown code shows that code's base character."""
    out: list[str] = []
    escaped = False
    for value in septets:
        if not 0 <= value <= 0x7F:
            raise ValueError(f"septet value out of range: {value}")
        if escaped:
            escaped = False
            if value in EXTENSION:
                out.append(EXTENSION[value])
            elif value == ESCAPE:
                out.append(" ")  # reserved for a further extension table: shown as a space
            else:
                out.append(DEFAULT_ALPHABET[value])
        elif value == ESCAPE:
            escaped = True
        else:
            out.append(DEFAULT_ALPHABET[value])
    if escaped:
        out.append(" ")  # a dangling escape at the very end
    return "".join(out)


def septet_count(text: str) -> int:
    """How many septets `text` needs (extension characters count two)."""
    return len(to_septets(text))


def pack(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first into octets, after `fill_bits` (0..6) zero bits."""
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    total_bits = fill_bits + 7 * len(septets)
    out = bytearray((total_bits + 7) // 8)
    bit = fill_bits
    for value in septets:
        if not 0 <= value <= 0x7F:
            raise ValueError(f"septet value out of range: {value}")
        index, shift = divmod(bit, 8)
        out[index] |= (value << shift) & 0xFF
        if shift > 1:
            out[index + 1] |= value >> (8 - shift)
        bit += 7
    return bytes(out)


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first `count` septets packed in `data` after `fill_bits` bits; ValueError if too short."""
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")
    if count < 0:
        raise ValueError(f"negative septet count: {count}")
    needed = (fill_bits + 7 * count + 7) // 8
    if len(data) < needed:
        raise ValueError(f"{count} septets need {needed} octets, only {len(data)} given")
    out: list[int] = []
    bit = fill_bits
    for _ in range(count):
        index, shift = divmod(bit, 8)
        value = data[index] >> shift
        if shift > 1:
            value |= data[index + 1] << (8 - shift)
        out.append(value & 0x7F)
        bit += 7
    return out


def split_septets(septets: Sequence[int], per_part: int) -> list[list[int]]:
    """Cut septets into parts of at most `per_part`, never between an escape and its character."""
    if per_part < 2:
        raise ValueError("a part must hold at least two septets (an escape pair)")
    parts: list[list[int]] = []
    current: list[int] = []
    i = 0
    while i < len(septets):
        unit = list(septets[i : i + 2]) if septets[i] == ESCAPE else [septets[i]]
        if len(current) + len(unit) > per_part:
            parts.append(current)
            current = []
        current.extend(unit)
        i += len(unit)
    if current or not parts:
        parts.append(current)
    return parts
