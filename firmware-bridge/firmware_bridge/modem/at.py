"""AT responses (3GPP TS 27.007 / 27.005) as pure parsers and a line-fed state machine.

Why this exists: what a GSM modem sends back is one byte stream mixing the echo of our
command (or none, after ATE0), its information lines, its final result code, the `> ` prompt
for an SMS PDU, and unsolicited result codes (RING, +CLIP, +CMTI, +CMT + PDU, ...) that may
arrive at any moment, also between a command and its OK. A modem that resets or is unplugged
leaves half lines and noise. `ResponseParser` turns that stream into events without ever
raising, knowing which command is in flight (`begin`) so that:

- the echo is recognised whether echo is on or off;
- `+NAME:` lines of the command in flight are `Info`, other known unsolicited codes are `Urc`;
- `+CMT:` and `+CDS:` take the PDU line that follows them;
- NO CARRIER / BUSY / NO ANSWER / NO DIALTONE end a dial or answer command, and are
  unsolicited otherwise (a caller hanging up);
- undecodable bytes, control characters, truncated codes (`+CM`) become `Garbled(raw)`.

No I/O here: the device layer writes commands, feeds bytes, and keeps its own timeouts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class AtParseError(ValueError):
    """A response line does not have the form its parser expects."""


class FinalCode(Enum):
    """The final result codes that end a command."""

    OK = "OK"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"


# The equipment and message service errors a posko is likely to meet (TS 27.007 9.2, 27.005 3.2.5).
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    30: "no network service",
    31: "network timeout",
    100: "unknown",
}
CMS_TEXT = {
    300: "ME failure",
    302: "operation not allowed",
    304: "invalid PDU mode parameter",
    310: "SIM not inserted",
    321: "invalid memory index",
    322: "SIM memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    500: "unknown error",
}


@dataclass(frozen=True)
class Final:
    """A final result code; `error` is the +CME/+CMS number, `text` its meaning or verbose form."""

    code: FinalCode
    error: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code is FinalCode.OK


@dataclass(frozen=True)
class Urc:
    """An unsolicited result code: kind ("RING", "+CMTI", ..., "unknown"), parsed args, raw line(s)."""

    kind: str
    args: tuple
    raw: str


@dataclass(frozen=True)
class Echo:
    """The modem repeating our command (echo on) or the PDU typed after the prompt."""

    line: str


@dataclass(frozen=True)
class Info:
    """An information line of the command in flight (e.g. "+CSQ: 20,99" or a PDU after +CMGR)."""

    line: str


@dataclass(frozen=True)
class Prompt:
    """The "> " after AT+CMGS=<length>: the modem waits for the PDU and Ctrl-Z."""


@dataclass(frozen=True)
class Garbled:
    """Bytes that are no valid response line (noise, non-UTF-8, control characters, truncation)."""

    raw: bytes
    reason: str = ""


Event = Echo | Info | Final | Prompt | Urc | Garbled


@dataclass(frozen=True)
class MessageHeader:
    """The header line of +CMGR (index None) or +CMGL in PDU mode; the PDU line follows it."""

    index: int | None
    stat: int
    alpha: str | None
    length: int


# --- field parsers ---------------------------------------------------------------------------

_CODE = re.compile(r"([+^][A-Za-z0-9_]+):\s*(.*)")


def _fields(rest: str) -> list[tuple[str, bool]]:
    """Comma-separated fields as (value, was_quoted); commas inside quotes belong to the value."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(rest)
    while True:
        while i < n and rest[i] == " ":
            i += 1
        if i < n and rest[i] == '"':
            end = rest.find('"', i + 1)
            if end < 0:
                raise AtParseError(f"unterminated quote in {rest!r}")
            out.append((rest[i + 1 : end], True))
            i = end + 1
            while i < n and rest[i] == " ":
                i += 1
            if i < n and rest[i] != ",":
                raise AtParseError(f"text after a quoted field in {rest!r}")
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            out.append((rest[i:end].strip(), False))
            i = end
        if i >= n:
            return out
        i += 1  # the comma


def _payload(line: str, *names: str) -> list[tuple[str, bool]]:
    match = _CODE.fullmatch(line.strip())
    if not match or match.group(1).upper() not in names:
        raise AtParseError(f"expected {' or '.join(names)}: {line!r}")
    return _fields(match.group(2))


def _int(field: tuple[str, bool], what: str) -> int:
    try:
        return int(field[0])
    except ValueError:
        raise AtParseError(f"{what} is not a number: {field[0]!r}") from None


def _digits(text: str) -> bool:
    """A short run of ASCII digits: "²".isdigit() is true but int() refuses it, as it does 4,300+ digits."""
    return len(text) <= 18 and text.isascii() and text.isdigit()


def parse_clip(line: str) -> tuple[str, int]:
    """+CLIP: "<number>",<type>,...: the number as given (type 145 without "+" gets one), type."""
    fields = _payload(line, "+CLIP")
    if not fields[0][1]:
        raise AtParseError(f"+CLIP number is not a quoted string: {line!r}")
    number = fields[0][0].strip()
    kind = _int(fields[1], "number type") if len(fields) > 1 and fields[1][0] else (145 if number[:1] == "+" else 129)
    if kind == 145 and number and not number.startswith("+"):
        number = "+" + number
    return number, kind


def parse_csq(line: str) -> tuple[int, int]:
    """+CSQ: <rssi>,<ber>."""
    fields = _payload(line, "+CSQ")
    if len(fields) != 2:
        raise AtParseError(f"+CSQ needs two fields: {line!r}")
    return _int(fields[0], "rssi"), _int(fields[1], "ber")


def csq_to_dbm(rssi: int) -> int | None:
    """Signal strength in dBm for a +CSQ rssi (0 = -113 or less, 31 = -51 or more); 99 = unknown."""
    return -113 + 2 * rssi if 0 <= rssi <= 31 else None


def parse_creg(line: str) -> tuple[int | None, int]:
    """+CREG/+CGREG/+CEREG: (n, stat) from a query answer, (None, stat) from an unsolicited code."""
    fields = _payload(line, "+CREG", "+CGREG", "+CEREG")
    if len(fields) == 1 or fields[1][1] or not fields[1][0]:
        return None, _int(fields[0], "stat")
    return _int(fields[0], "n"), _int(fields[1], "stat")


def parse_cmti(line: str) -> tuple[str, int]:
    """+CMTI (or +CDSI): "<mem>",<index>."""
    fields = _payload(line, "+CMTI", "+CDSI")
    if len(fields) != 2:
        raise AtParseError(f"expected memory and index: {line!r}")
    return fields[0][0], _int(fields[1], "index")


def parse_cmgl_cmgr_header(line: str) -> MessageHeader:
    """+CMGR: <stat>,[<alpha>],<length>  or  +CMGL: <index>,<stat>,[<alpha>],<length> (PDU mode)."""
    match = _CODE.fullmatch(line.strip())
    name = match.group(1).upper() if match else ""
    fields = _payload(line, "+CMGR", "+CMGL")
    index = None
    if name == "+CMGL":
        if not fields:
            raise AtParseError(f"+CMGL without fields: {line!r}")
        index = _int(fields.pop(0), "index")
    if len(fields) not in (2, 3):
        raise AtParseError(f"expected stat,[alpha,]length: {line!r}")
    alpha = fields[1][0] or None if len(fields) == 3 else None
    return MessageHeader(index, _int(fields[0], "stat"), alpha, _int(fields[-1], "length"))


def parse_final(line: str) -> Final | None:
    """The Final for a final result code line, None for any other line."""
    text = line.strip()
    upper = text.upper()
    for code in (FinalCode.OK, FinalCode.ERROR, FinalCode.NO_CARRIER, FinalCode.BUSY, FinalCode.NO_ANSWER):
        if upper == code.value:
            return Final(code)
    if upper in ("NO DIALTONE", "NO DIAL TONE"):
        return Final(FinalCode.NO_DIALTONE)
    for code, table in ((FinalCode.CME_ERROR, CME_TEXT), (FinalCode.CMS_ERROR, CMS_TEXT)):
        if upper.startswith(code.value + ":"):
            detail = text[len(code.value) + 1 :].strip()
            if _digits(detail):
                return Final(code, int(detail), table.get(int(detail), ""))
            return Final(code, None, detail)
    return None


def _urc_args(name: str, line: str) -> tuple[str, tuple]:
    """(kind, args) for a known unsolicited code; AtParseError when it is malformed."""
    if name == "+CLIP":
        return name, parse_clip(line)
    if name in ("+CMTI", "+CDSI"):
        return name, parse_cmti(line)
    fields = _payload(line, name)
    if name in ("+CREG", "+CGREG", "+CEREG"):
        return name, (parse_creg(line)[1], *(f[0] for f in fields[1:]))
    if name == "+CRING":
        return "RING", (fields[0][0],)
    if name == "+CUSD":
        text = fields[1][0] if len(fields) > 1 else None
        dcs = _int(fields[2], "dcs") if len(fields) > 2 and fields[2][0] else None
        return name, (_int(fields[0], "m"), text, dcs)
    if name == "^RSSI":
        return name, (_int(fields[0], "rssi"),)
    if name == "^BOOT":
        return name, tuple(int(v) if _digits(v) else v for v, _ in fields)
    raise AtParseError(f"no parser for {name}")


URC_NAMES = frozenset({"+CLIP", "+CMTI", "+CDSI", "+CREG", "+CGREG", "+CEREG", "+CRING", "+CUSD", "^RSSI", "^BOOT"})
TWO_LINE = frozenset({"+CMT", "+CDS"})
PROMPT_COMMANDS = frozenset({"+CMGS", "+CMGW"})
CALL_COMMANDS = frozenset({"D", "A"})
# Commands whose answer lines carry other commands' prefixes (ATI lists "+GCAP: ..."; AT&V dumps settings).
INFO_ANY_PREFIX = frozenset({"I", "&V"})
CALL_CODES = frozenset({FinalCode.NO_CARRIER, FinalCode.BUSY, FinalCode.NO_ANSWER, FinalCode.NO_DIALTONE})
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def command_name(command: str) -> str:
    """The command's name: "+CSQ" for "AT+CSQ", "+CMGS" for "AT+CMGS=23", "D" for "ATD0812;", "" for "AT"."""
    body = command.strip().upper()
    body = body[2:] if body.startswith("AT") else body
    match = re.match(r"[+^&][A-Z0-9_]+|[A-Z]", body)
    return match.group(0) if match else ""


# --- the state machine -----------------------------------------------------------------------


class ResponseParser:
    """Bytes from the modem in, events out; never raises on what the modem sends."""

    MAX_LINE = 2048

    def __init__(self) -> None:
        self._buf = bytearray()
        self._two_line: tuple[str, bytes, str] | None = None  # name, raw header, header text
        self.reset()

    def reset(self) -> None:
        """Forget everything (after a modem reset or reconnect)."""
        self._buf.clear()
        self._two_line = None
        self._command: str | None = None
        self._name = ""
        self._echo_seen = False
        self._prompted = False

    @property
    def in_flight(self) -> str | None:
        """The command whose final result code has not arrived yet."""
        return self._command

    def begin(self, command: str) -> None:
        """Call right before writing `command`: its echo, info lines and final are expected next."""
        self._command = command.strip()
        self._name = command_name(command)
        self._echo_seen = False
        self._prompted = False

    def feed(self, data: bytes) -> list[Event]:
        """Events for the complete lines (and a prompt) in `data` plus what was buffered before."""
        self._buf += data
        events: list[Event] = []
        while True:
            cut = min((i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            self._line(raw, events)
        if self._expects_prompt() and bytes(self._buf).strip() == b">":
            self._buf.clear()
            self._prompted = True
            events.append(Prompt())
        if len(self._buf) > self.MAX_LINE:
            events.append(Garbled(bytes(self._buf), "line too long"))
            self._buf.clear()
        return events

    def flush(self) -> list[Event]:
        """After a timeout: whatever half line or lone +CMT header is left, as Garbled."""
        events: list[Event] = []
        if self._two_line:
            events.append(Garbled(self._two_line[1], f"{self._two_line[0]} without its PDU"))
            self._two_line = None
        if self._buf.strip():
            events.append(Garbled(bytes(self._buf), "truncated line"))
        self._buf.clear()
        return events

    def _expects_prompt(self) -> bool:
        return self._command is not None and self._name in PROMPT_COMMANDS and not self._prompted

    def _line(self, raw: bytes, events: list[Event]) -> None:
        if len(raw) > self.MAX_LINE:  # a whole over-long line in one read: as Garbled as a long half line
            self._abandon_two_line(events)
            events.append(Garbled(raw, "line too long"))
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._abandon_two_line(events)
            events.append(Garbled(raw, "not UTF-8"))
            return
        if self._name in PROMPT_COMMANDS:  # the PDU echo may end in Ctrl-Z (or ESC to cancel)
            text = text.replace("\x1a", "").replace("\x1b", "")
        if any((c < " " and c != "\t") or c == "\x7f" for c in text):
            self._abandon_two_line(events)
            events.append(Garbled(raw, "control characters"))
            return
        text = text.strip()
        if not text:
            return
        if self._two_line:
            name, header_raw, header = self._two_line
            self._two_line = None
            if _HEX.fullmatch(text):
                events.append(self._two_line_urc(name, header, text, header_raw + b"\n" + raw))
                return
            events.append(Garbled(header_raw, f"{name} without its PDU"))
        if self._expects_prompt() and text.startswith(">"):
            self._prompted = True
            events.append(Prompt())
            text = text[1:].strip()
            if not text:
                return
        event = self._classify(text, raw)
        if event is not None:
            events.append(event)

    def _abandon_two_line(self, events: list[Event]) -> None:
        if self._two_line:
            events.append(Garbled(self._two_line[1], f"{self._two_line[0]} without its PDU"))
            self._two_line = None

    def _two_line_urc(self, name: str, header: str, pdu: str, raw: bytes) -> Urc | Garbled:
        try:
            fields = _payload(header, name)
            if name == "+CMT":
                alpha = fields[0][0] or None if len(fields) > 1 else None
                length = _int(fields[-1], "length")
                args: tuple = (alpha, length, pdu)
            else:
                length = _int(fields[0], "length")
                args = (length, pdu)
        except AtParseError as exc:
            return Garbled(raw, str(exc))
        if len(pdu) // 2 < length + 1:  # SMSC length octet + the TPDU the header announced
            return Garbled(raw, f"{name} PDU shorter than its announced {length} octets")
        return Urc(name, args, header + "\n" + pdu)

    def _classify(self, text: str, raw: bytes) -> Event | None:
        in_flight = self._command is not None
        if in_flight and not self._echo_seen and text.upper() == self._command.upper():
            self._echo_seen = True
            return Echo(text)
        if self._prompted and _HEX.fullmatch(text):
            return Echo(text)
        final = parse_final(text)
        if final is not None:
            if final.code in CALL_CODES and not (in_flight and self._name in CALL_COMMANDS):
                return Urc(final.code.value, (), text)
            self._command, self._name, self._prompted = None, "", False
            return final
        if text.upper() == "RING":
            return Urc("RING", (), text)
        match = _CODE.fullmatch(text)
        if match:
            name = match.group(1).upper()
            if in_flight and name == self._name:
                return Info(text)
            if name in TWO_LINE:
                self._two_line = (name, raw, text)
                return None
            if name in URC_NAMES:
                try:
                    kind, args = _urc_args(name, text)
                except (AtParseError, IndexError) as exc:
                    return Garbled(raw, f"malformed {name}: {exc}")
                return Urc(kind, args, text)
            if in_flight and self._name not in INFO_ANY_PREFIX:
                # A "+NAME:" line that is not this command's answer is a URC we do not know
                # (e.g. Quectel's "+QIND: ..." arriving during AT+CSQ), not the answer.
                return Urc("unknown", (), text)
        elif text[0] in "+^":
            return Garbled(raw, "truncated result code")
        return Info(text) if in_flight else Urc("unknown", (), text)
