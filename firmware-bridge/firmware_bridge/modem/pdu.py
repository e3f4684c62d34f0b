"""SMS PDUs (3GPP TS 23.040) as modems take and give them in PDU mode (AT+CMGF=0): pure codec.

Why this exists: the bridge sends dispatches by SMS and reads agency replies and delivery
reports from a GSM modem. Text mode (AT+CMGF=1) cannot send UCS2 or concatenated messages
reliably across modems, so we speak PDU mode only, and need SMS-SUBMIT encoding (split into
concatenated parts), SMS-DELIVER and SMS-STATUS-REPORT decoding, and reassembly of parts.
No maintained Python library does all of that (see docs/sms-pdu.md), so this module does:
hex strings in, dataclasses out, no I/O, no clock except where a caller does not pass one.

Sizes: one SMS is 140 octets of user data: 160 GSM 7-bit septets, 70 UCS2 code units or 140
octets of 8-bit data. Concatenated parts carry a 6-octet header (IE 0x00, 8-bit reference),
leaving 153 septets / 67 code units / 134 octets. Characters outside the BMP take two UCS2
code units and are never split between parts; neither is a GSM escape pair.

Every malformed input raises `PduError` (a ValueError), never IndexError or a bare ValueError.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum

from firmware_bridge.modem import gsm7

DEFAULT_VALIDITY = 0xA7  # relative validity period: 24 hours; a dispatch older than that is stale
_NUMBER = re.compile(r"\+?[0-9*#]{1,20}")
_NIBBLES = "0123456789*#abc"


class PduError(ValueError):
    """The PDU (or what we were asked to encode) is malformed, truncated or unsupported."""


class Encoding(Enum):
    """The alphabet of the user data; the value is the TP-DCS octet we send for it."""

    GSM7 = 0x00
    DATA8 = 0x04
    UCS2 = 0x08


@dataclass(frozen=True)
class SubmitPart:
    """One SMS-SUBMIT ready for AT+CMGS=<tpdu_length>: hex starts with 00 (use the SIM's SMSC)."""

    hex: str
    tpdu_length: int
    part: int
    total: int


@dataclass(frozen=True)
class Deliver:
    """A received SMS (one part, or a whole message from `Reassembler`); concat is (ref, total, seq)."""

    sender: str
    text: str
    timestamp: datetime
    encoding: Encoding
    concat: tuple[int, int, int] | None = None
    smsc: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """A delivery report for the SMS-SUBMIT whose TP-MR was `message_ref`."""

    message_ref: int
    recipient: str
    status: int
    delivered: bool
    final: bool
    discharge_time: datetime | None


@dataclass(frozen=True)
class Submit:
    """An SMS-SUBMIT decoded (what a phone or our own encoder gave to AT+CMGS)."""

    recipient: str
    text: str
    encoding: Encoding
    message_ref: int
    status_report_requested: bool
    concat: tuple[int, int, int] | None = None


class _Reader:
    """Octets read in order; running out raises PduError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octet(self) -> int:
        return self.take(1)[0]

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PduError(f"PDU truncated: need {n} octets at offset {self.pos}, have {len(self.data) - self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _unhex(text: str) -> bytes:
    if not isinstance(text, str):
        raise PduError(f"PDU must be a hex string, not {type(text).__name__}")
    try:
        data = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise PduError(f"PDU is not hex: {exc}") from None
    if not data:
        raise PduError("empty PDU")
    return data


# --- addresses -------------------------------------------------------------------------------


def _semi_octets(digits: str) -> bytes:
    nibbles = [_NIBBLES.index(d) for d in digits] + ([0xF] if len(digits) % 2 else [])
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def _digits(raw: bytes) -> str:
    out = []
    for octet in raw:
        for nibble in (octet & 0xF, octet >> 4):
            out.append(_NIBBLES[nibble] if nibble < 0xF else "")
    return "".join(out)


def _encode_address(address: str, *, alphanumeric: bool = False) -> bytes:
    """TP-DA/TP-OA: +62… as international (0x91), 08… as unknown/national (0x81), text as 0xD0."""
    address = address.strip() if isinstance(address, str) else ""
    if _NUMBER.fullmatch(address):
        digits = address.lstrip("+")
        return bytes([len(digits), 0x91 if address.startswith("+") else 0x81]) + _semi_octets(digits)
    if alphanumeric and address and gsm7.is_gsm7(address) and gsm7.septet_count(address) <= 11:
        septets = gsm7.to_septets(address)
        return bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + gsm7.pack(septets)
    raise PduError(f"not a phone number{' or sender name' if alphanumeric else ''}: {address!r}")


def _read_address(r: _Reader) -> str:
    length, toa = r.octet(), r.octet()
    raw = r.take((length + 1) // 2)
    ton = (toa >> 4) & 0x07
    if ton == 0b101:  # alphanumeric, GSM 7-bit packed
        return gsm7.from_septets(gsm7.unpack(raw, length * 4 // 7))
    number = _digits(raw)[:length]
    return "+" + number if ton == 0b001 and number else number


def _encode_smsc(smsc: str | None) -> bytes:
    if not smsc:
        return b"\x00"
    address = _encode_address(smsc)
    return bytes([len(address) - 1]) + address[1:]


def _read_smsc(r: _Reader) -> str | None:
    length = r.octet()
    if length == 0:
        return None
    if length > 12:
        raise PduError(f"SMSC address of {length} octets")
    toa = r.octet()
    number = _digits(r.take(length - 1))
    return "+" + number if (toa >> 4) & 0x07 == 0b001 and number else number or None


# --- timestamps ------------------------------------------------------------------------------


def _bcd(octet: int) -> int:
    low, high = octet & 0xF, octet >> 4
    if low > 9 or high > 9:
        raise PduError(f"not a BCD octet: {octet:02X}")
    return low * 10 + high


def _read_timestamp(r: _Reader) -> datetime:
    raw = r.take(7)
    year, month, day, hour, minute, second = (_bcd(o) for o in raw[:6])
    tz = raw[6]
    if tz >> 4 > 9:
        raise PduError(f"bad time zone octet: {tz:02X}")
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    offset = timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    try:
        century = 1900 if year >= 80 else 2000  # two-digit years: 80..99 are the 1980s and 1990s
        return datetime(century + year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise PduError(f"bad timestamp: {exc}") from None


def _encode_timestamp(when: datetime) -> bytes:
    offset = when.utcoffset() if isinstance(when, datetime) else None
    if offset is None:
        raise PduError("timestamps must be timezone-aware datetimes")
    if offset % timedelta(minutes=15) or abs(offset) >= timedelta(hours=20):
        when, offset = when.astimezone(UTC), timedelta(0)
    if not 1980 <= when.year <= 2079:
        raise PduError(f"year {when.year} does not fit an SMS timestamp")
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    quarters = int(abs(offset) // timedelta(minutes=15))
    tz = (quarters // 10) | (quarters % 10) << 4 | (0x08 if offset < timedelta(0) else 0)
    return bytes((v // 10) | (v % 10) << 4 for v in fields) + bytes([tz])


# --- user data -------------------------------------------------------------------------------


def _encoding_of(dcs: int) -> Encoding:
    """TP-DCS (TS 23.038 section 4) to our alphabet; reserved codings read as GSM 7-bit."""
    group = dcs >> 4
    if group <= 0x7:
        if dcs & 0x20:
            raise PduError(f"compressed user data (DCS {dcs:02X}) is not supported")
        return {1: Encoding.DATA8, 2: Encoding.UCS2}.get((dcs >> 2) & 0x03, Encoding.GSM7)
    if group == 0xE:
        return Encoding.UCS2
    if group == 0xF:
        return Encoding.DATA8 if dcs & 0x04 else Encoding.GSM7
    return Encoding.GSM7


def _concat_header(ref: int, total: int, seq: int) -> bytes:
    if not (0 <= ref <= 0xFFFF and 1 <= seq <= total <= 255):
        raise PduError(f"bad concatenation (ref {ref}, part {seq} of {total})")
    if ref <= 0xFF:
        return bytes([0x05, 0x00, 0x03, ref, total, seq])
    return bytes([0x06, 0x08, 0x04, ref >> 8, ref & 0xFF, total, seq])


def _parse_header(header: bytes) -> tuple[int, int, int] | None:
    concat = None
    i = 0
    while i < len(header):
        if i + 2 > len(header) or i + 2 + header[i + 1] > len(header):
            raise PduError("user data header element runs past the header")
        iei, data = header[i], header[i + 2 : i + 2 + header[i + 1]]
        if iei == 0x00 and len(data) == 3:
            ref, total, seq = data
        elif iei == 0x08 and len(data) == 4:
            ref, total, seq = data[0] << 8 | data[1], data[2], data[3]
        else:
            ref = total = seq = 0  # another element: ports, indications... not ours to use
        if 1 <= seq <= total:  # TS 23.040 9.2.3.24.1: otherwise ignore the element
            concat = (ref, total, seq)
        i += 2 + len(data)
    return concat


def _text_of(encoding: Encoding, septets_or_octets: list[int] | bytes, *, partial: bool) -> str:
    if encoding is Encoding.GSM7:
        return gsm7.from_septets(septets_or_octets)
    data = bytes(septets_or_octets)
    if encoding is Encoding.DATA8:
        return data.decode("latin-1")
    if len(data) % 2:
        raise PduError("UCS2 user data has an odd number of octets")
    # A part may end in half a surrogate pair (some phones split them): keep it for the
    # Reassembler to join; a whole message gets U+FFFD for anything unpaired.
    return data.decode("utf-16-be", "surrogatepass" if partial else "replace")


def _read_user_data(r: _Reader, encoding: Encoding, udhi: bool, udl: int) -> tuple[str, tuple | None]:
    if encoding is Encoding.GSM7:
        if udl > 160:
            raise PduError(f"user data length {udl} septets is over 160")
        ud = r.take((udl * 7 + 7) // 8)
    else:
        if udl > 140:
            raise PduError(f"user data length {udl} octets is over 140")
        ud = r.take(udl)
    concat, start = None, 0
    if udhi:
        if not ud or ud[0] + 1 > len(ud):
            raise PduError("user data header longer than the user data")
        start = ud[0] + 1
        concat = _parse_header(ud[1:start])
    if encoding is Encoding.GSM7:
        fill = (7 - start * 8 % 7) % 7
        count = udl - (start * 8 + fill) // 7
        if count < 0:
            raise PduError("user data header longer than the user data")
        try:
            body: list[int] | bytes = gsm7.unpack(ud[start:], count, fill)
        except ValueError as exc:
            raise PduError(str(exc)) from None
    else:
        body = ud[start:]
    return _text_of(encoding, body, partial=concat is not None), concat


def _chunks(text: str, encoding: Encoding | None) -> tuple[Encoding, list]:
    """Pick the alphabet and cut the text into one payload, or into concatenated-part payloads."""
    if not isinstance(text, str):
        raise PduError(f"text must be str, not {type(text).__name__}")
    if encoding is None:
        encoding = Encoding.GSM7 if gsm7.is_gsm7(text) else Encoding.UCS2
    try:
        if encoding is Encoding.GSM7:
            septets = gsm7.to_septets(text)
            return encoding, [septets] if len(septets) <= 160 else gsm7.split_septets(septets, 153)
        data = text.encode("utf-16-be" if encoding is Encoding.UCS2 else "latin-1")
    except (ValueError, UnicodeError) as exc:
        raise PduError(f"text cannot be sent as {encoding.name}: {exc}") from None
    if encoding is Encoding.DATA8:
        return encoding, [data] if len(data) <= 140 else [data[i : i + 134] for i in range(0, len(data), 134)]
    if len(data) <= 140:
        return encoding, [data]
    parts, i = [], 0
    while i < len(data):
        end = min(i + 134, len(data))
        if end < len(data) and 0xD8 <= data[end - 2] <= 0xDB:  # a high surrogate: keep its pair together
            end -= 2
        parts.append(data[i:end])
        i = end
    return encoding, parts


def _user_data(encoding: Encoding, payload: list[int] | bytes, header: bytes) -> bytes:
    """TP-UDL followed by TP-UD; PduError when it does not fit one SMS."""
    if encoding is Encoding.GSM7:
        fill = (7 - len(header) * 8 % 7) % 7
        udl = (len(header) * 8 + fill) // 7 + len(payload)
        ud = header + gsm7.pack(payload, fill)
        if udl > 160:
            raise PduError(f"{udl} septets do not fit one SMS")
    else:
        udl = len(header) + len(payload)
        ud = header + bytes(payload)
    if len(ud) > 140:
        raise PduError(f"{len(ud)} octets of user data do not fit one SMS")
    return bytes([udl]) + ud


# --- public codec ----------------------------------------------------------------------------


def encode_submit(
    number: str,
    text: str,
    *,
    status_report: bool = True,
    reference: int | None = None,
    message_ref: int = 0,
    validity: int | None = DEFAULT_VALIDITY,
) -> list[SubmitPart]:
    """SMS-SUBMIT PDUs for `text` to `number`: one part, or concatenated parts with `reference`.

    `validity` is the relative TP-VP octet (0xA7 = 24 h, 0xAA = 4 days) or None for none.
    Without a `reference` a multipart message gets a random one; pass a counter to be sure.
    """
    if not 0 <= message_ref <= 255 or (reference is not None and not 0 <= reference <= 255):
        raise PduError("message_ref and reference are octets (0..255)")
    if validity is not None and not 0 <= validity <= 255:
        raise PduError("validity is the relative TP-VP octet (0..255)")
    address = _encode_address(number)
    encoding, payloads = _chunks(text, None)
    total = len(payloads)
    if total > 255:
        raise PduError(f"text needs {total} parts; at most 255 can be concatenated")
    if total > 1 and reference is None:
        reference = random.randrange(256)
    first = 0x01 | (0x10 if validity is not None else 0) | (0x20 if status_report else 0) | (0x40 if total > 1 else 0)
    vp = b"" if validity is None else bytes([validity])
    parts = []
    for seq, payload in enumerate(payloads, 1):
        header = _concat_header(reference, total, seq) if total > 1 else b""
        mr = (message_ref + seq - 1) & 0xFF
        tpdu = bytes([first, mr]) + address + bytes([0x00, encoding.value]) + vp + _user_data(encoding, payload, header)
        parts.append(SubmitPart(("00" + tpdu.hex()).upper(), len(tpdu), seq, total))
    return parts


def decode_submit(hex: str) -> Submit:
    """An SMS-SUBMIT as given to AT+CMGS (SMSC field first, usually just 00)."""
    r = _Reader(_unhex(hex))
    _read_smsc(r)
    first = r.octet()
    if first & 0x03 != 0x01:
        raise PduError(f"not an SMS-SUBMIT (first octet {first:02X})")
    message_ref = r.octet()
    recipient = _read_address(r)
    r.octet()  # TP-PID
    encoding = _encoding_of(r.octet())
    r.take({0b00: 0, 0b10: 1, 0b01: 7, 0b11: 7}[(first >> 3) & 0x03])  # TP-VP, unused here
    text, concat = _read_user_data(r, encoding, bool(first & 0x40), r.octet())
    return Submit(recipient, text, encoding, message_ref, bool(first & 0x20), concat)


def decode_deliver(hex: str) -> Deliver:
    """An SMS-DELIVER as modems give it in +CMT / +CMGR / +CMGL (SMSC field first)."""
    r = _Reader(_unhex(hex))
    smsc = _read_smsc(r)
    first = r.octet()
    if first & 0x03 != 0x00:
        raise PduError(f"not an SMS-DELIVER (first octet {first:02X})")
    sender = _read_address(r)
    r.octet()  # TP-PID
    encoding = _encoding_of(r.octet())
    timestamp = _read_timestamp(r)
    text, concat = _read_user_data(r, encoding, bool(first & 0x40), r.octet())
    return Deliver(sender, text, timestamp, encoding, concat, smsc)


def decode_status_report(hex: str) -> StatusReport:
    """An SMS-STATUS-REPORT as modems give it in +CDS / +CMGR (SMSC field first)."""
    r = _Reader(_unhex(hex))
    _read_smsc(r)
    first = r.octet()
    if first & 0x03 != 0x02:
        raise PduError(f"not an SMS-STATUS-REPORT (first octet {first:02X})")
    message_ref = r.octet()
    recipient = _read_address(r)
    r.take(7)  # TP-SCTS: when the SMSC took the message; only the discharge time matters
    raw_discharge = _Reader(r.take(7))
    status = r.octet()
    try:
        discharge: datetime | None = _read_timestamp(raw_discharge)
    except PduError:
        discharge = None  # a broken clock must not lose the report
    # TS 23.040 9.2.3.15: 0x00-0x1F completed, 0x20-0x3F still trying, 0x40-0x7F given up.
    return StatusReport(message_ref, recipient, status, status < 0x20, not 0x20 <= status < 0x40, discharge)


def decode_pdu(hex: str) -> Deliver | Submit | StatusReport:
    """Any of the three by its TP-MTI (what AT+CMGL lists is a mix)."""
    r = _Reader(_unhex(hex))
    _read_smsc(r)
    mti = r.octet() & 0x03
    decoder = {0: decode_deliver, 1: decode_submit, 2: decode_status_report}.get(mti)
    if decoder is None:
        raise PduError("reserved message type (TP-MTI 3)")
    return decoder(hex)


def _deliver_hex(sender: str, encoding: Encoding, payload, header: bytes, when: datetime, smsc: str | None) -> str:
    first = 0x04 | (0x40 if header else 0)  # SMS-DELIVER, no more messages waiting
    address = _encode_address(sender, alphanumeric=True)
    tpdu = bytes([first]) + address + bytes([0x00, encoding.value]) + _encode_timestamp(when)
    return (_encode_smsc(smsc) + tpdu + _user_data(encoding, payload, header)).hex().upper()


def encode_deliver(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    smsc: str | None = "+6281100000",
    concat: tuple[int, int, int] | None = None,
    encoding: Encoding | None = None,
) -> str:
    """One SMS-DELIVER hex (what a modem would show in +CMT), for emulators and tests."""
    encoding, payloads = _chunks(text, encoding)
    if len(payloads) > 1 and concat is None:
        raise PduError("text does not fit one SMS; use encode_deliver_parts")
    header = b"" if concat is None else _concat_header(*concat)
    joined = sum(payloads, []) if encoding is Encoding.GSM7 else b"".join(payloads)
    return _deliver_hex(sender, encoding, joined, header, timestamp, smsc)


def encode_deliver_parts(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    reference: int,
    smsc: str | None = "+6281100000",
    encoding: Encoding | None = None,
) -> list[str]:
    """SMS-DELIVER hex strings for a message as a phone would split it (one, or concatenated)."""
    encoding, payloads = _chunks(text, encoding)
    total = len(payloads)
    return [
        _deliver_hex(sender, encoding, p, _concat_header(reference, total, seq) if total > 1 else b"", timestamp, smsc)
        for seq, p in enumerate(payloads, 1)
    ]


def encode_status_report(
    message_ref: int,
    recipient: str,
    status: int = 0,
    *,
    smsc: str | None = "+6281100000",
    timestamp: datetime | None = None,
    discharge_time: datetime | None = None,
) -> str:
    """One SMS-STATUS-REPORT hex (what a modem would show in +CDS), for emulators and tests."""
    if not 0 <= message_ref <= 255 or not 0 <= status <= 255:
        raise PduError("message_ref and status are octets (0..255)")
    now = datetime.now(UTC).replace(microsecond=0)
    timestamp = timestamp or now
    discharge_time = discharge_time or timestamp
    tpdu = (
        bytes([0x06, message_ref])  # SMS-STATUS-REPORT, no more messages, reports a SUBMIT
        + _encode_address(recipient)
        + _encode_timestamp(timestamp)
        + _encode_timestamp(discharge_time)
        + bytes([status])
    )
    return (_encode_smsc(smsc) + tpdu).hex().upper()


# --- reassembly ------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Join surrogate halves that arrived in separate parts; anything unpaired becomes U+FFFD."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


@dataclass
class _Partial:
    first_seen: datetime
    parts: dict[int, Deliver] = field(default_factory=dict)


class Reassembler:
    """Collects concatenated parts (keyed by sender, reference and total) into whole messages."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pending: dict[tuple[str, int, int], _Partial] = {}

    @property
    def pending(self) -> int:
        """How many messages are waiting for parts."""
        return len(self._pending)

    def add(self, deliver: Deliver) -> Deliver | None:
        """The whole message once its last part is in (a single SMS comes straight back), else None."""
        if deliver.concat is None or not 1 <= deliver.concat[2] <= deliver.concat[1] or deliver.concat[1] == 1:
            return replace(deliver, text=_clean(deliver.text))
        ref, total, seq = deliver.concat
        key = (deliver.sender, ref, total)
        partial = self._pending.setdefault(key, _Partial(self._clock()))
        partial.parts.setdefault(seq, deliver)  # a repeated part is ignored
        if len(partial.parts) < total:
            return None
        del self._pending[key]
        ordered = [partial.parts[i] for i in range(1, total + 1)]
        encodings = {p.encoding for p in ordered}
        first = ordered[0]
        return Deliver(
            sender=first.sender,
            text=_clean("".join(p.text for p in ordered)),
            timestamp=min(p.timestamp for p in ordered),
            encoding=first.encoding if len(encodings) == 1 else Encoding.UCS2,
            concat=None,
            smsc=first.smsc,
        )

    def expire(self, older_than: timedelta) -> list[Deliver]:
        """Drop messages whose first part came more than `older_than` ago; return their parts."""
        cutoff = self._clock() - older_than
        dropped: list[Deliver] = []
        for key in [k for k, p in self._pending.items() if p.first_seen < cutoff]:
            parts = self._pending.pop(key).parts
            dropped.extend(replace(parts[s], text=_clean(parts[s].text)) for s in sorted(parts))
        return dropped
