"""Fuzzing the AT response parser beyond tests/bridge/test_at.py.

That file already feeds random byte chunks and shuffled known-good lines into ResponseParser.
Added here: the pure field parsers (parse_clip, parse_csq, parse_creg, parse_cmti,
parse_cmgl_cmgr_header, parse_final) on arbitrary text, and URC-like lines (+CMTI:, +CLIP:,
+CMT:, +CDS:, +CME ERROR:, ...) with garbage after them fed to the state machine in every
command context. The parsers may raise only AtParseError; the state machine never raises.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from firmware_bridge.modem.at import (
    AtParseError,
    Echo,
    Final,
    Garbled,
    Info,
    MessageHeader,
    Prompt,
    ResponseParser,
    Urc,
    command_name,
    parse_clip,
    parse_cmgl_cmgr_header,
    parse_cmti,
    parse_creg,
    parse_csq,
    parse_final,
)
from tests.fuzz.profile import FUZZ

EVENT_TYPES = (Echo, Info, Final, Prompt, Urc, Garbled)
PREFIXES = ["+CMTI: ", "+CLIP: ", "+CMT: ", "+CDS: ", "+CME ERROR: ", "+CMS ERROR: ", "+CDSI: ", "+CREG: ",
            "+CGREG: ", "+CEREG: ", "+CRING: ", "+CUSD: ", "^RSSI:", "^BOOT:", "+CSQ: ", "+CMGR: ", "+CMGL: ",
            "+CMGS: ", "+QIND: ", "RING", "OK", "ERROR", "NO CARRIER", "> ", "+", "^", ""]
COMMANDS = [None, "AT", "AT+CSQ", "AT+CMGS=23", "AT+CMGR=1", "AT+CMGL=4", "ATD112;", "ATA", "ATI", "AT+CUSD=1"]
# Field-like garbage: quotes, commas, digits (also non-ASCII digits such as "²" and "١"), signs, hex.
FIELD_CHARS = st.sampled_from(list('",0123456789 +-#*ABCDEFabcdef\t') + ["²", "١", "½", "é", "\u00a0", "🚑"])
garbage = st.text(FIELD_CHARS, max_size=40) | st.text(max_size=40)

PARSERS = (parse_clip, parse_csq, parse_creg, parse_cmti, parse_cmgl_cmgr_header)


@FUZZ
@given(st.sampled_from(PREFIXES), garbage)
@example("+CME ERROR: ", "²")
@example("+CMS ERROR: ", "١٢")
@example("+CMGL: ", "1,,")
@example("+CLIP: ", '"')
def test_field_parsers_raise_only_at_parse_error(prefix: str, rest: str) -> None:
    line = prefix + rest
    for parser in PARSERS:
        try:
            result = parser(line)
        except AtParseError:
            continue
        if parser is parse_cmgl_cmgr_header:
            assert isinstance(result, MessageHeader)
        else:
            assert isinstance(result, tuple)
    final = parse_final(line)
    assert final is None or isinstance(final, Final)
    assert isinstance(command_name(line), str)


@FUZZ
@given(st.text(max_size=80))
def test_field_parsers_on_any_text(line: str) -> None:
    for parser in PARSERS:
        try:
            parser(line)
        except AtParseError:
            pass
    parse_final(line)


line_bytes = (st.builds(lambda p, g: (p + g).encode("utf-8"), st.sampled_from(PREFIXES), garbage)
              | st.binary(max_size=50))
hex_pdu = st.binary(max_size=40).map(lambda b: b.hex().upper().encode())


@FUZZ
@given(st.sampled_from(COMMANDS), st.lists(line_bytes | hex_pdu, max_size=10),
       st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"\r\n\r\n", b""]), min_size=1, max_size=5), st.data())
def test_urc_like_lines_with_garbage_never_raise(command: str | None, lines: list[bytes], ends: list[bytes],
                                                 data: st.DataObject) -> None:
    parser = ResponseParser()
    if command:
        parser.begin(command)
    stream = b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines))
    events: list = []
    at = 0
    while at < len(stream):  # fed in random chunk sizes, as a serial port delivers them
        step = data.draw(st.integers(1, 64))
        events += parser.feed(stream[at : at + step])
        at += step
        if data.draw(st.booleans()) and data.draw(st.integers(0, 9)) == 0:
            parser.begin(data.draw(st.sampled_from(COMMANDS[1:])))
    events += parser.flush()
    assert all(isinstance(e, EVENT_TYPES) for e in events)
    assert parser.flush() == []


@FUZZ
@given(st.sampled_from(["+CMT: ", "+CDS: "]), garbage, hex_pdu | line_bytes)
def test_two_line_urcs_with_garbage(prefix: str, header: str, second: bytes) -> None:
    parser = ResponseParser()
    events = parser.feed((prefix + header).encode() + b"\r\n" + second + b"\r\n") + parser.flush()
    assert all(isinstance(e, EVENT_TYPES) for e in events)
    for e in events:
        if isinstance(e, Urc) and e.kind in ("+CMT", "+CDS"):
            assert isinstance(e.args[-1], str) and isinstance(e.args[-2], int)


def test_regression_non_ascii_digits_are_not_error_numbers() -> None:
    """Found by fuzzing: "²".isdigit() is true but int("²") raises, which crashed feed()."""
    parser = ResponseParser()
    parser.begin("AT+CSQ")
    assert parser.feed("+CME ERROR: ²\r\n".encode()) == [Final(parse_final("+CME ERROR: x").code, None, "²")]
    assert parser.feed("^BOOT:²,1\r\n".encode()) == [Urc("^BOOT", ("²", 1), "^BOOT:²,1")]


def test_regression_huge_numbers_are_garbled_not_a_crash() -> None:
    """Found by review of the above: int() refuses 4,300+ digits, so a long line crashed feed()."""
    for line in (b"+CME ERROR: " + b"1" * 5000, b"^BOOT:" + b"1" * 5000):
        parser = ResponseParser()
        assert parser.feed(line + b"\r\n") == [Garbled(line, "line too long")]
    assert parse_final("+CME ERROR: " + "1" * 5000).error is None


@FUZZ
@given(st.sampled_from(PREFIXES), st.integers(1, 6000), st.sampled_from(COMMANDS))
def test_long_digit_runs_never_raise(prefix: str, digits: int, command: str | None) -> None:
    line = prefix + "7" * digits
    parser = ResponseParser()
    if command:
        parser.begin(command)
    assert all(isinstance(e, EVENT_TYPES) for e in parser.feed(line.encode() + b"\r\n") + parser.flush())
    for parse in PARSERS:
        try:
            parse(line)
        except AtParseError:
            pass
    parse_final(line)
