"""The AT response layer: field parsers and the line-fed parser on modem transcripts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.modem import at, pdu
from firmware_bridge.modem.at import (
    AtParseError,
    Echo,
    Final,
    FinalCode,
    Garbled,
    Info,
    MessageHeader,
    Prompt,
    ResponseParser,
    Urc,
)

OK = Final(FinalCode.OK)
DELIVER_HEX = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
REPORT_HEX = "0006D60B911326880736F4111011719551401110117195714000"


def run(command: str | None, *chunks: bytes) -> list:
    parser = ResponseParser()
    if command:
        parser.begin(command)
    return [event for chunk in chunks for event in parser.feed(chunk)]


# --- field parsers ---------------------------------------------------------------------------


def test_parse_clip() -> None:
    assert at.parse_clip('+CLIP: "081234567890",129,"",,"",0') == ("081234567890", 129)  # no "+" added
    assert at.parse_clip('+CLIP: "+6281234567890",145') == ("+6281234567890", 145)
    assert at.parse_clip('+CLIP: "6281234567890",145,,,,0') == ("+6281234567890", 145)  # 145 means international
    assert at.parse_clip('+CLIP: "",128,,,,1') == ("", 128)  # withheld
    assert at.parse_clip('+CLIP: "112"') == ("112", 129)
    for bad in ("+CLIP:", '+CLIP: "0812,129', "+CSQ: 1,2", '+CLIP: "0812",x'):
        with pytest.raises(AtParseError):
            at.parse_clip(bad)


def test_parse_csq_and_dbm() -> None:
    assert at.parse_csq("+CSQ: 20,99") == (20, 99)
    assert at.parse_csq("+CSQ: 99,99") == (99, 99)
    assert [at.csq_to_dbm(r) for r in (0, 1, 2, 15, 30, 31, 99, 32, -1)] == [
        -113, -111, -109, -83, -53, -51, None, None, None,
    ]
    for bad in ("+CSQ: 20", "+CSQ: a,b", "+CREG: 0,1", "CSQ: 1,2"):
        with pytest.raises(AtParseError):
            at.parse_csq(bad)


def test_parse_creg_forms() -> None:
    assert at.parse_creg("+CREG: 0,1") == (0, 1)  # answer to AT+CREG?
    assert at.parse_creg('+CREG: 2,5,"00A1","1B2C",7') == (2, 5)
    assert at.parse_creg("+CREG: 1") == (None, 1)  # unsolicited
    assert at.parse_creg('+CREG: 5,"00A1","1B2C"') == (None, 5)  # unsolicited with location
    assert at.parse_creg("+CGREG: 0,2") == (0, 2)
    with pytest.raises(AtParseError):
        at.parse_creg("+CREG: x")


def test_parse_cmti_and_message_headers() -> None:
    assert at.parse_cmti('+CMTI: "SM",3') == ("SM", 3)
    assert at.parse_cmti('+CDSI: "SR",12') == ("SR", 12)
    assert at.parse_cmgl_cmgr_header("+CMGR: 0,,24") == MessageHeader(None, 0, None, 24)
    assert at.parse_cmgl_cmgr_header('+CMGR: 1,"Ibu",24') == MessageHeader(None, 1, "Ibu", 24)
    assert at.parse_cmgl_cmgr_header("+CMGR: 0,24") == MessageHeader(None, 0, None, 24)
    assert at.parse_cmgl_cmgr_header("+CMGL: 4,1,,30") == MessageHeader(4, 1, None, 30)
    assert at.parse_cmgl_cmgr_header("+CMGL: 4,1,30") == MessageHeader(4, 1, None, 30)
    for bad in ('+CMTI: "SM"', "+CMTI: SM,x", "+CMGL: ", "+CMGR: 1,2,3,4"):
        with pytest.raises(AtParseError):
            (at.parse_cmti if bad.startswith("+CMTI") else at.parse_cmgl_cmgr_header)(bad)


def test_parse_final() -> None:
    assert at.parse_final("OK") == OK
    assert at.parse_final("ERROR") == Final(FinalCode.ERROR)
    assert at.parse_final("+CME ERROR: 10") == Final(FinalCode.CME_ERROR, 10, "SIM not inserted")
    assert at.parse_final("+CME ERROR: SIM PIN required") == Final(FinalCode.CME_ERROR, None, "SIM PIN required")
    assert at.parse_final("+CMS ERROR: 500") == Final(FinalCode.CMS_ERROR, 500, "unknown error")
    assert at.parse_final("+CMS ERROR: 999") == Final(FinalCode.CMS_ERROR, 999, "")
    assert at.parse_final("NO DIAL TONE") == Final(FinalCode.NO_DIALTONE)
    assert at.parse_final("+CSQ: 1,2") is None
    assert at.parse_final("OK").ok and not at.parse_final("ERROR").ok


def test_command_name() -> None:
    assert at.command_name("AT+CSQ") == "+CSQ"
    assert at.command_name("at+cmgs=23") == "+CMGS"
    assert at.command_name("AT^SYSINFO") == "^SYSINFO"
    assert at.command_name("ATD081234567890;") == "D"
    assert at.command_name("AT") == ""


# --- transcripts -----------------------------------------------------------------------------


def test_echo_on_and_off() -> None:
    on = run("AT+CSQ", b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    off = run("AT+CSQ", b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert on == [Echo("AT+CSQ"), Info("+CSQ: 20,99"), OK]
    assert off == [Info("+CSQ: 20,99"), OK]
    # ATE0 is itself echoed, then echo is off for the next command.
    assert run("ATE0", b"ATE0\r\r\nOK\r\n") == [Echo("ATE0"), OK]
    # Only the first copy of the command is its echo.
    assert run("AT", b"AT\r\nAT\r\nOK\r\n") == [Echo("AT"), Info("AT"), OK]
    # Lines without a prefix are the answer too (AT+CGMI).
    assert run("AT+CGMI", b"AT+CGMI\r\r\nSIMCOM_Ltd\r\n\r\nOK\r\n") == [Echo("AT+CGMI"), Info("SIMCOM_Ltd"), OK]


@pytest.mark.parametrize("echo", [True, False])
def test_urcs_between_csq_and_its_ok(echo: bool) -> None:
    stream = (
        (b"AT+CSQ\r" if echo else b"")
        + b'\r\n+CMTI: "SM",3\r\n\r\nRING\r\n\r\n+CLIP: "081234567890",129,"",,"",0\r\n'
        + b"\r\n+CSQ: 18,99\r\n\r\nOK\r\n"
    )
    events = run("AT+CSQ", stream)
    assert [e for e in events if isinstance(e, Urc)] == [
        Urc("+CMTI", ("SM", 3), '+CMTI: "SM",3'),
        Urc("RING", (), "RING"),
        Urc("+CLIP", ("081234567890", 129), '+CLIP: "081234567890",129,"",,"",0'),
    ]
    assert [e for e in events if not isinstance(e, Urc)] == ([Echo("AT+CSQ")] if echo else []) + [
        Info("+CSQ: 18,99"),
        OK,
    ]


def test_own_prefix_is_info_other_prefix_is_urc() -> None:
    events = run("AT+CREG?", b'+CGREG: 1\r\n+CREG: 0,1\r\nOK\r\n+CREG: 5,"00A1","1B2C"\r\n')
    assert events == [
        Urc("+CGREG", (1,), "+CGREG: 1"),
        Info("+CREG: 0,1"),
        OK,
        Urc("+CREG", (5, "00A1", "1B2C"), '+CREG: 5,"00A1","1B2C"'),
    ]


def test_cme_error_ends_the_command() -> None:
    parser = ResponseParser()
    parser.begin("AT+CPIN?")
    assert parser.feed(b"AT+CPIN?\r\r\n+CME ERROR: 10\r\n") == [
        Echo("AT+CPIN?"),
        Final(FinalCode.CME_ERROR, 10, "SIM not inserted"),
    ]
    assert parser.in_flight is None


def test_truncated_result_code_is_garbled_and_parsing_goes_on() -> None:
    events = run("AT+CSQ", b"+CM\r\n+CSQ: 20,99\r\nOK\r\n")
    assert events == [Garbled(b"+CM", "truncated result code"), Info("+CSQ: 20,99"), OK]
    # A half line left when the modem stops talking (timeout) comes out of flush().
    parser = ResponseParser()
    parser.begin("AT+CSQ")
    assert parser.feed(b"+CSQ: 2") == []
    assert parser.flush() == [Garbled(b"+CSQ: 2", "truncated line")]
    assert parser.flush() == []


def test_malformed_known_urc_is_garbled() -> None:
    events = run(None, b'+CMTI: "SM"\r\n+CLIP: "0812\r\nRING\r\n')
    assert [type(e) for e in events] == [Garbled, Garbled, Urc]
    assert events[0].raw == b'+CMTI: "SM"'


def test_garbled_bytes_and_control_characters() -> None:
    events = run("AT", b"\xff\xfe\x80\r\nAT\r\n\x00\x01OK\r\nO\x07K\r\nOK\r\n")
    assert events == [
        Garbled(b"\xff\xfe\x80", "not UTF-8"),
        Echo("AT"),
        Garbled(b"\x00\x01OK", "control characters"),
        Garbled(b"O\x07K", "control characters"),
        OK,
    ]
    long = run(None, b"A" * (ResponseParser.MAX_LINE + 1))
    assert long == [Garbled(b"A" * (ResponseParser.MAX_LINE + 1), "line too long")]


def test_sms_send_prompt_echo_on_and_off() -> None:
    submit = pdu.encode_submit("+6281234567890", "OK 4821")[0]
    parser = ResponseParser()
    parser.begin(f"AT+CMGS={submit.tpdu_length}")
    assert parser.feed(f"AT+CMGS={submit.tpdu_length}\r\r\n> ".encode()) == [
        Echo(f"AT+CMGS={submit.tpdu_length}"),
        Prompt(),
    ]
    assert parser.feed(submit.hex.encode() + b"\x1a\r\n+CMGS: 12\r\n\r\nOK\r\n") == [
        Echo(submit.hex),
        Info("+CMGS: 12"),
        OK,
    ]
    # Echo off; the prompt split over two reads; then a late hex line is no longer an echo.
    parser.begin("AT+CMGS=20")
    assert parser.feed(b"\r\n>") == [Prompt()]
    assert parser.feed(b" ") == []
    assert parser.feed(b"\r\n+CMGS: 13\r\n\r\nOK\r\n") == [Info("+CMGS: 13"), OK]
    assert parser.feed(b"0A0B\r\n") == [Urc("unknown", (), "0A0B")]
    # Prompt and PDU echo on one line.
    parser.begin("AT+CMGS=23")
    assert parser.feed(b"AT+CMGS=23\r\r\n> 0011\x1a\r\nOK\r\n") == [Echo("AT+CMGS=23"), Prompt(), Echo("0011"), OK]
    # No prompt outside AT+CMGS.
    assert run("AT+CSQ", b"\r\n> ") == []


def test_cmt_consumes_its_pdu_line_even_mid_command() -> None:
    stream = b"AT+CSQ\r\r\n+CMT: ,24\r\n" + DELIVER_HEX.encode() + b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    events = run("AT+CSQ", stream)
    assert events == [
        Echo("AT+CSQ"),
        Urc("+CMT", (None, 24, DELIVER_HEX), "+CMT: ,24\n" + DELIVER_HEX),
        Info("+CSQ: 20,99"),
        OK,
    ]
    assert pdu.decode_deliver(events[1].args[2]).text == "How are you?"
    # Byte by byte, the same events.
    assert run("AT+CSQ", *(bytes([b]) for b in stream)) == events


def test_cds_and_cmt_variants() -> None:
    stream = b"+CDS: 25\r\n" + REPORT_HEX.encode() + b'\r\n+CMT: "Ibu",24\r\n' + DELIVER_HEX.encode() + b"\r\n"
    events = run(None, stream)
    assert events[0] == Urc("+CDS", (25, REPORT_HEX), "+CDS: 25\n" + REPORT_HEX)
    assert pdu.decode_status_report(events[0].args[1]).message_ref == 214
    assert events[1].args[:2] == ("Ibu", 24)


def test_cmt_without_its_pdu_is_garbled_and_the_next_line_counts() -> None:
    events = run(None, b"+CMT: ,24\r\nRING\r\n")
    assert events == [Garbled(b"+CMT: ,24", "+CMT without its PDU"), Urc("RING", (), "RING")]
    short = run(None, b"+CMT: ,24\r\n0791132604\r\n")  # PDU shorter than announced
    assert len(short) == 1 and isinstance(short[0], Garbled) and b"0791132604" in short[0].raw
    parser = ResponseParser()
    assert parser.feed(b"+CDS: 25\r\n") == []
    assert parser.flush() == [Garbled(b"+CDS: 25", "+CDS without its PDU")]


def test_call_codes_end_a_dial_but_are_unsolicited_otherwise() -> None:
    assert run("ATD081234567890;", b"ATD081234567890;\r\r\nBUSY\r\n") == [
        Echo("ATD081234567890;"),
        Final(FinalCode.BUSY),
    ]
    assert run("ATA", b"\r\nNO CARRIER\r\n") == [Final(FinalCode.NO_CARRIER)]
    # The caller hangs up while we ask for the signal: AT+CSQ still waits for its OK.
    assert run("AT+CSQ", b"\r\nNO CARRIER\r\n+CSQ: 9,99\r\nOK\r\n") == [
        Urc("NO CARRIER", (), "NO CARRIER"),
        Info("+CSQ: 9,99"),
        OK,
    ]


def test_other_urcs() -> None:
    events = run(
        None,
        b'+CUSD: 0,"Sisa pulsa Rp 5.000, aktif s/d 01-06",15\r\n^RSSI:17\r\n^BOOT:20952006,0,0,0,72\r\n'
        b'+CRING: VOICE\r\n+CDSI: "SR",2\r\nCall Ready\r\n^MODE:5,4\r\n',
    )
    cusd = "Sisa pulsa Rp 5.000, aktif s/d 01-06"
    assert events == [
        Urc("+CUSD", (0, cusd, 15), f'+CUSD: 0,"{cusd}",15'),
        Urc("^RSSI", (17,), "^RSSI:17"),
        Urc("^BOOT", (20952006, 0, 0, 0, 72), "^BOOT:20952006,0,0,0,72"),
        Urc("RING", ("VOICE",), "+CRING: VOICE"),
        Urc("+CDSI", ("SR", 2), '+CDSI: "SR",2'),
        Urc("unknown", (), "Call Ready"),
        Urc("unknown", (), "^MODE:5,4"),
    ]
    # Mid-command an unknown prefixed line belongs to the answer (ATI may print +GCAP).
    assert run("ATI", b"+GCAP: +CGSM\r\nOK\r\n") == [Info("+GCAP: +CGSM"), OK]


def test_late_final_and_reset() -> None:
    parser = ResponseParser()
    assert parser.feed(b"OK\r\n") == [OK]  # nothing in flight: the caller drops it
    parser.begin("AT+CMGS=10")
    parser.feed(b"+CMT: ,24\r\n+CS")
    parser.reset()
    assert parser.in_flight is None
    assert parser.feed(b"\r\nRDY\r\n") == [Urc("unknown", (), "RDY")]


# --- fuzzing ---------------------------------------------------------------------------------

EVENT_TYPES = (Echo, Info, Final, Prompt, Urc, Garbled)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64), max_size=12), st.sampled_from([None, "AT+CSQ", "AT+CMGS=23", "ATD112;"]))
def test_fuzz_random_bytes_never_raise(chunks: list[bytes], command: str | None) -> None:
    parser = ResponseParser()
    if command:
        parser.begin(command)
    events = [e for chunk in chunks for e in parser.feed(chunk)] + parser.flush()
    assert all(isinstance(e, EVENT_TYPES) for e in events)


LINES = [
    b"OK", b"ERROR", b"+CME ERROR: 10", b"+CMS ERROR: 304", b"RING", b'+CLIP: "0812",129', b'+CMTI: "SM",1',
    b"+CMT: ,24", DELIVER_HEX.encode(), b"+CDS: 25", b"> ", b"+CM", b"+CREG: 1", b"NO CARRIER", b"\xc3\x28",
    b'+CUSD: 1,"a,b",15', b"^RSSI:5", b"AT+CSQ", b"+CSQ: 1,2", b"", b"\x1a", b'"', b"+:", b"^:",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(LINES), max_size=20), st.lists(st.sampled_from([b"\r", b"\n", b"\r\n"]), min_size=1))
def test_fuzz_modem_like_lines_never_raise(lines: list[bytes], ends: list[bytes]) -> None:
    parser = ResponseParser()
    parser.begin("AT+CSQ")
    stream = b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines))
    events = parser.feed(stream) + parser.flush()
    assert all(isinstance(e, EVENT_TYPES) for e in events)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([b"RING", b'+CMTI: "SM",7', b"+CREG: 1", b"^RSSI:9"]), max_size=6), st.data())
def test_urcs_anywhere_leave_the_answer_intact(urcs: list[bytes], data: st.DataObject) -> None:
    answer = [b"AT+CSQ\r", b"\r\n+CSQ: 20,99\r\n", b"\r\nOK\r\n"]
    stream = list(answer)
    for urc in urcs:
        stream.insert(data.draw(st.integers(0, len(stream))), b"\r\n" + urc + b"\r\n")
    events = run("AT+CSQ", b"".join(stream))
    # Inserting a URC after OK is allowed too: it is unsolicited either way.
    assert [e for e in events if not isinstance(e, Urc)] == [Echo("AT+CSQ"), Info("+CSQ: 20,99"), OK]
    assert sorted(e.raw.encode() for e in events if isinstance(e, Urc)) == sorted(urcs)


def test_unknown_prefixed_urc_during_a_command_is_not_its_answer():
    from firmware_bridge.modem.at import Final, Info, ResponseParser, Urc

    parser = ResponseParser()
    parser.begin("AT+CSQ")
    events = parser.feed(b'\r\n+QIND: "FOTA","START"\r\n\r\n+CSQ: 21,99\r\n\r\nOK\r\n')
    infos = [e.line for e in events if isinstance(e, Info)]
    urcs = [e for e in events if isinstance(e, Urc)]
    assert infos == ["+CSQ: 21,99"]
    assert len(urcs) == 1 and urcs[0].kind == "unknown" and "QIND" in urcs[0].raw
    assert any(isinstance(e, Final) and e.ok for e in events)
    parser.begin("ATI")
    events = parser.feed(b"\r\nQuectel\r\nEC25\r\n+GCAP: +CGSM\r\n\r\nOK\r\n")
    assert [e.line for e in events if isinstance(e, Info)] == ["Quectel", "EC25", "+GCAP: +CGSM"]
