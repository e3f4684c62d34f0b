"""SMS PDUs: published examples (3GPP TS 23.040 walkthroughs, dreamfabric, public test suites),
round trips with generated text, multipart Indonesian messages, reassembly, and fuzzing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.modem import gsm7, pdu
from firmware_bridge.modem.pdu import Deliver, Encoding, PduError, Reassembler

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 14, 9, 30, 5, tzinfo=WIB)


def tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


# --- published SMS-DELIVER examples ----------------------------------------------------------
# (hex as a modem shows it in +CMT/+CMGR, smsc, sender, text, timestamp, encoding, concat)
DELIVERS = [
    pytest.param(  # dreamfabric.com "SMS messages and the PDU format"; TZ octet 08 = sign bit, 0 quarters
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
        "+31624000000", "+31641600986", "How are you?", datetime(2002, 8, 26, 19, 37, 41, tzinfo=UTC),
        Encoding.GSM7, None, id="dreamfabric-deliver",
    ),
    pytest.param(  # smspdudecoder README (a 1998 timestamp)
        "07916407058099F9040B916407950303F100008921222140140004D4E2940A",
        "+46705008999", "+46705930301", "TEST", datetime(1998, 12, 22, 12, 4, 41, tzinfo=UTC),
        Encoding.GSM7, None, id="smspdudecoder-readme",
    ),
    pytest.param(  # python-gsmmodem test suite: 6-octet SMSC, TZ +2
        "06917228195339040B917228214365F700003130805120618005D4F29C2E03",
        "+2782913593", "+27821234567", "Test2", datetime(2013, 3, 8, 15, 2, 16, tzinfo=tz(2)),
        Encoding.GSM7, None, id="gsmmodem-test2",
    ),
    pytest.param(  # python-gsmmodem test suite: TZ octet 23 = +8 h
        "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341"
        "EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
        "+85290000000", "+85291234567", "It is easy to read text messages via AT commands.",
        datetime(2007, 4, 12, 23, 25, 42, tzinfo=tz(8)), Encoding.GSM7, None, id="gsmmodem-easy-to-read",
    ),
    pytest.param(  # python-gsmmodem test suite: escape pairs and é from the default table
        "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910",
        "+2782913593", "+27821234567", "@{tést}!", datetime(2013, 3, 26, 13, 35, 25, tzinfo=tz(2)),
        Encoding.GSM7, None, id="gsmmodem-escapes",
    ),
    pytest.param(  # pdu_sms (Ruby gem) README: alphanumeric sender "Tele2", TZ +3
        "07911732547698F00009D0D432BB2C0300005111713115142108E8329BFD0E8542",
        "+71234567890", "Tele2", "hello!!!", datetime(2015, 11, 17, 13, 51, 41, tzinfo=tz(3)),
        Encoding.GSM7, None, id="alphanumeric-sender",
    ),
    pytest.param(  # smslib / FrontlineSMS test data: UCS2 (Cyrillic)
        "0791449737709399040C914477493184380008902050710511000C0420044D04410441049B0456",
        "+447973073999", "+447794134883", "\u0420\u044d\u0441\u0441\u049b\u0456",
        datetime(2009, 2, 5, 17, 50, 11, tzinfo=UTC), Encoding.UCS2, None, id="ucs2-deliver",
    ),
    pytest.param(  # python-gsmmodem test suite: national sender (type 81), concatenation header, fill bit
        "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB06"
        "0319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B"
        "068BCD5C20",
        "+2781191", "2781188", "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. ",
        datetime(2013, 6, 25, 16, 40, 48, tzinfo=tz(2)), Encoding.GSM7, (0xC3, 1, 1), id="concat-header-national",
    ),
]


@pytest.mark.parametrize(("hex_pdu", "smsc", "sender", "text", "timestamp", "encoding", "concat"), DELIVERS)
def test_published_delivers(hex_pdu, smsc, sender, text, timestamp, encoding, concat) -> None:
    got = pdu.decode_deliver(hex_pdu)
    assert got == Deliver(sender, text, timestamp, encoding, concat, smsc)
    assert got.timestamp.utcoffset() == timestamp.utcoffset()
    assert pdu.decode_pdu(hex_pdu) == got


# --- published SMS-SUBMIT examples -----------------------------------------------------------


def test_encode_submit_matches_dreamfabric() -> None:
    # dreamfabric.com: "hellohello" to +46708251358, relative validity AA (4 days), no report.
    [part] = pdu.encode_submit("+46708251358", "hellohello", status_report=False, validity=0xAA)
    assert part.hex == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert part.tpdu_length == 23 == len(part.hex) // 2 - 1
    assert (part.part, part.total) == (1, 1)


def test_encode_submit_matches_gsmmodem_without_validity() -> None:
    # python-gsmmodem test suite: "Hello World!" to +27820001111, no TP-VP.
    [part] = pdu.encode_submit("+27820001111", "Hello World!", status_report=False, validity=None)
    assert part.hex == "0001000B917228001011F100000CC8329BFD065DDF72363904"


LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris nisi ut aliquip ex "
    "ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat "
    "nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit "
    "anim id est laborum"
)
# python-gsmmodem test suite: LOREM in three concatenated parts, reference 0, reject-duplicates set.
LOREM_PARTS = [
    "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A99"
    "5E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287"
    "C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
    "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C8"
    "9D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BF"
    "E5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
    "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA"
    "4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7"
    "C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
]


def test_concatenated_submit_matches_gsmmodem() -> None:
    decoded = [pdu.decode_submit(h) for h in LOREM_PARTS]
    assert [d.concat for d in decoded] == [(0, 3, 1), (0, 3, 2), (0, 3, 3)]
    assert "".join(d.text for d in decoded) == LOREM
    ours = pdu.encode_submit("+15125551234", LOREM, status_report=False, reference=0, validity=None)
    assert len(ours) == 3
    for mine, theirs in zip(ours, LOREM_PARTS, strict=True):
        # Same bytes except the first octet (they set reject-duplicates, 0x45 vs our 0x41) and TP-MR
        # (we number the parts' message references, they repeat 0).
        assert mine.hex[:2] == "00" and mine.hex[2:4] == "41" and theirs[2:4] == "45"
        assert mine.hex[6:] == theirs[6:]


def test_decode_published_submits() -> None:
    # diafaan.com: with an SMSC field, status report requested, TP-MR 0D, validity A9 (3 days).
    got = pdu.decode_submit("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
    assert got == pdu.Submit("+31628870634", "www.diafaan.com", Encoding.GSM7, 13, True, None)
    # python-gsmmodem test suite: UCS2 submit.
    got = pdu.decode_submit("07914346466554F601000B914316565811F9000806304253F68449")
    assert (got.recipient, got.text, got.encoding) == ("+34616585119", "あ叶葉", Encoding.UCS2)
    # python-gsmmodem test suite: 8-bit data.
    got = pdu.decode_submit("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421")
    assert (got.text, got.encoding) == ("Hello world!", Encoding.DATA8)


def test_published_status_report() -> None:
    # diafaan.com via python-gsmmodem's suite: report for TP-MR 0xD6 to +31628870634, delivered.
    got = pdu.decode_status_report("0006D60B911326880736F4111011719551401110117195714000")
    assert got == pdu.StatusReport(214, "+31628870634", 0, True, True, datetime(2011, 1, 11, 17, 59, 17, tzinfo=tz(1)))
    assert pdu.decode_pdu("0006D60B911326880736F4111011719551401110117195714000") == got


# --- encoding rules --------------------------------------------------------------------------


def test_number_types() -> None:
    [intl] = pdu.encode_submit("+6281234567890", "OK")
    [national] = pdu.encode_submit("081234567890", "OK")
    assert intl.hex[6:10] == "0D91"  # 13 digits, international
    assert national.hex[6:10] == "0C81"  # 12 digits, unknown type: the leading 0 stays a digit
    assert pdu.decode_submit(intl.hex).recipient == "+6281234567890"
    assert pdu.decode_submit(national.hex).recipient == "081234567890"
    assert pdu.decode_deliver(pdu.encode_deliver("081234567890", "x", T0)).sender == "081234567890"
    for bad in ("", "+", "abc", "+62 812 345", "0812-345", "1" * 21, None):
        with pytest.raises(PduError):
            pdu.encode_submit(bad, "OK")


def test_first_octet_flags_and_validity() -> None:
    [plain] = pdu.encode_submit("+628121", "x")
    assert plain.hex[2:4] == "31"  # SUBMIT, relative validity, status report requested
    assert plain.hex[16:22] == "0000A7"  # PID, DCS 7-bit, VP 24 h
    multi = pdu.encode_submit("+628121", "x" * 200, reference=9)
    assert {p.hex[2:4] for p in multi} == {"71"}  # ... and a user data header
    [no_report] = pdu.encode_submit("+628121", "x", status_report=False, message_ref=77)
    assert no_report.hex[2:6] == "114D"
    assert pdu.decode_submit(no_report.hex).status_report_requested is False
    assert pdu.decode_submit(plain.hex).status_report_requested is True


@pytest.mark.parametrize(
    ("text", "parts", "encoding"),
    [
        ("a" * 160, 1, Encoding.GSM7),
        ("a" * 161, 2, Encoding.GSM7),
        ("a" * 306, 2, Encoding.GSM7),
        ("a" * 307, 3, Encoding.GSM7),
        ("a" * 159 + "€", 2, Encoding.GSM7),  # 161 septets: € counts two
        ("a" * 158 + "€", 1, Encoding.GSM7),
        ("é" * 160, 1, Encoding.GSM7),  # é is in the default alphabet
        ("ê" * 70, 1, Encoding.UCS2),
        ("ê" * 71, 2, Encoding.UCS2),
        ("ê" * 134, 2, Encoding.UCS2),
        ("ê" * 135, 3, Encoding.UCS2),
        ("🚑" * 35, 1, Encoding.UCS2),  # 70 UTF-16 code units
        ("🚑" * 36, 2, Encoding.UCS2),
        ("", 1, Encoding.GSM7),
    ],
)
def test_sizes(text: str, parts: int, encoding: Encoding) -> None:
    got = pdu.encode_submit("+62812", text, reference=1)
    assert len(got) == parts
    for i, part in enumerate(got, 1):
        assert (part.part, part.total) == (i, parts)
        assert part.tpdu_length == len(part.hex) // 2 - 1
        decoded = pdu.decode_submit(part.hex)
        assert decoded.encoding is encoding
        assert decoded.concat == (None if parts == 1 else (1, parts, i))
    assert "".join(pdu.decode_submit(p.hex).text for p in got) == text


def test_escape_pair_is_not_split_between_parts() -> None:
    got = pdu.encode_submit("+62812", "a" * 152 + "€" + "b" * 10, reference=3)
    texts = [pdu.decode_submit(p.hex).text for p in got]
    assert texts == ["a" * 152, "€" + "b" * 10]


def test_surrogate_pair_is_not_split_between_parts() -> None:
    got = pdu.encode_submit("+62812", "x" * 66 + "🚑" + "y" * 5, reference=3)  # 73 UTF-16 code units
    texts = [pdu.decode_submit(p.hex).text for p in got]
    assert texts == ["x" * 66, "🚑yyyyy"]  # 67 units would have cut the pair


INDONESIAN = (
    "Kebakaran rumah di Desa Sungai Alam, Kecamatan Bengkalis. Api menjalar ke dua rumah tetangga, angin "
    "kencang dari arah laut. Satu korban luka bakar ringan sudah dievakuasi warga ke rumah ketua RT. Akses "
    "mobil pemadam lewat Jalan Pramuka, jalan sempit setelah masjid. Kirim unit tambahan [DAMKAR]."
)


def _receive(parts: list[pdu.SubmitPart], sender: str, order: list[int]) -> Deliver | None:
    """Turn our submits into the delivers the recipient's modem would show, fed in `order`."""
    reassembler = Reassembler()
    results = []
    for i in order:
        sub = pdu.decode_submit(parts[i].hex)
        hex_deliver = pdu.encode_deliver(sender, sub.text, T0, concat=sub.concat, encoding=sub.encoding)
        results.append(reassembler.add(pdu.decode_deliver(hex_deliver)))
    assert results[:-1] == [None] * (len(order) - 1)  # nothing until the last part is in
    assert reassembler.pending == 0
    return results[-1]


def test_multipart_indonesian_gsm7() -> None:
    assert gsm7.is_gsm7(INDONESIAN) and 280 < gsm7.septet_count(INDONESIAN) <= 306
    parts = pdu.encode_submit("+6281234567890", INDONESIAN, reference=42)
    assert len(parts) == 2
    assert all(pdu.decode_submit(p.hex).encoding is Encoding.GSM7 for p in parts)
    assert [pdu.decode_submit(p.hex).concat for p in parts] == [(42, 2, 1), (42, 2, 2)]
    whole = _receive(parts, "+6281234567890", [1, 0])
    assert whole is not None and whole.text == INDONESIAN and whole.concat is None


def test_multipart_indonesian_ucs2() -> None:
    text = "Banjir setinggi 1 meter di Desa Pangkalan Batang 🌊. " * 3 + "Perlu perahu karet. Terima kasih 🙏"
    parts = pdu.encode_submit("081234567890", text, reference=7)
    assert len(parts) == 3  # 70/67 UTF-16 code units; each emoji is two
    assert all(pdu.decode_submit(p.hex).encoding is Encoding.UCS2 for p in parts)
    whole = _receive(parts, "081234567890", [2, 0, 1])
    assert whole is not None and whole.text == text and whole.encoding is Encoding.UCS2


# --- round trips -----------------------------------------------------------------------------

GSM7_CHARS = [c for c in gsm7.DEFAULT_ALPHABET if c != "\x1b"] + list(gsm7.EXTENSION.values())


@settings(max_examples=150)
@given(st.text(alphabet=GSM7_CHARS, max_size=700), st.integers(0, 255))
def test_gsm7_round_trip(text: str, reference: int) -> None:
    parts = pdu.encode_submit("+628123", text, reference=reference)
    decoded = [pdu.decode_submit(p.hex) for p in parts]
    assert all(d.encoding is Encoding.GSM7 for d in decoded)
    assert all(gsm7.septet_count(d.text) <= (160 if len(parts) == 1 else 153) for d in decoded)
    assert "".join(d.text for d in decoded) == text


unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300).map(lambda t: t + "🚑")


@settings(max_examples=150)
@given(unicode_text, st.integers(0, 255))
def test_unicode_round_trip(text: str, reference: int) -> None:
    parts = pdu.encode_submit("+628123", text, reference=reference)
    decoded = [pdu.decode_submit(p.hex) for p in parts]
    assert all(d.encoding is Encoding.UCS2 for d in decoded)
    for d in decoded:
        assert not any("\ud800" <= c <= "\udfff" for c in d.text)  # no pair was split
        assert len(d.text.encode("utf-16-be")) <= (140 if len(parts) == 1 else 134)
    assert "".join(d.text for d in decoded) == text


@settings(max_examples=60)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600), st.randoms())
def test_reassembly_in_any_order(text: str, rnd: random.Random) -> None:
    hexes = pdu.encode_deliver_parts("+6281", text, T0, reference=200)
    delivers = [pdu.decode_deliver(h) for h in hexes]
    rnd.shuffle(delivers)
    if len(delivers) > 1:
        delivers.insert(rnd.randrange(len(delivers)), rnd.choice(delivers))  # a part repeated early
    reassembler = Reassembler()
    results = [r for r in (reassembler.add(d) for d in delivers) if r is not None]
    assert len(results) == 1 and results[0].text == text and results[0].sender == "+6281"


def test_deliver_round_trip_details() -> None:
    hex_pdu = pdu.encode_deliver("SIAGA112", "Tes [1]", T0, smsc="+6281100000")
    got = pdu.decode_deliver(hex_pdu)
    assert got == Deliver("SIAGA112", "Tes [1]", T0, Encoding.GSM7, None, "+6281100000")
    assert got.timestamp.utcoffset() == timedelta(hours=7)
    west = datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz(-3.75))
    assert pdu.decode_deliver(pdu.encode_deliver("+1", "x", west, smsc=None)).timestamp == west
    sixteen = pdu.decode_deliver(pdu.encode_deliver("+62", "x", T0, concat=(0x1234, 3, 2)))
    assert sixteen.concat == (0x1234, 3, 2)
    data8 = pdu.decode_deliver(pdu.encode_deliver("+62", "\x00\xff", T0, encoding=Encoding.DATA8))
    assert (data8.text, data8.encoding) == ("\x00\xff", Encoding.DATA8)
    with pytest.raises(PduError):
        pdu.encode_deliver("+62", "x" * 161, T0)
    with pytest.raises(PduError):
        pdu.encode_deliver("+62", "x", datetime(2026, 1, 1))  # naive
    with pytest.raises(PduError):
        pdu.encode_deliver("+62", "x", T0, concat=(1, 2, 3))


@pytest.mark.parametrize(
    ("status", "delivered", "final"),
    [(0x00, True, True), (0x01, True, True), (0x20, False, False), (0x30, False, False),
     (0x41, False, True), (0x62, False, True), (0xFF, False, True)],
)
def test_status_report_round_trip(status: int, delivered: bool, final: bool) -> None:
    done = T0 + timedelta(seconds=9)
    hex_pdu = pdu.encode_status_report(17, "081234567890", status, timestamp=T0, discharge_time=done)
    got = pdu.decode_status_report(hex_pdu)
    assert got == pdu.StatusReport(17, "081234567890", status, delivered, final, done)


def test_status_report_with_broken_discharge_time_is_kept() -> None:
    hex_pdu = pdu.encode_status_report(5, "+62812", 0, timestamp=T0)
    broken = hex_pdu[:-16] + "FFFFFFFFFFFFFF" + hex_pdu[-2:]
    got = pdu.decode_status_report(broken)
    assert (got.message_ref, got.delivered, got.discharge_time) == (5, True, None)


# --- reassembler -----------------------------------------------------------------------------


def test_reassembler_keeps_senders_and_references_apart_and_expires() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    r = Reassembler(clock=lambda: now[0])

    def part(sender: str, ref: int, seq: int, text: str) -> Deliver:
        return Deliver(sender, text, T0, Encoding.GSM7, (ref, 2, seq), None)

    assert r.add(part("+621", 5, 1, "A1")) is None
    assert r.add(part("+622", 5, 2, "B2")) is None  # same reference, other sender
    assert r.add(part("+621", 6, 2, "C2")) is None  # same sender, other reference
    assert r.pending == 3
    now[0] += timedelta(minutes=10)
    assert r.add(part("+621", 5, 2, "A2")).text == "A1A2"
    assert r.add(part("+623", 1, 1, "D1")) is None
    assert r.expire(timedelta(minutes=5)) == [part("+622", 5, 2, "B2"), part("+621", 6, 2, "C2")]
    assert r.pending == 1 and r.expire(timedelta(minutes=5)) == []
    single = Deliver("+62", "halo", T0, Encoding.GSM7, None, None)
    assert r.add(single) == single


def test_reassembler_joins_a_surrogate_pair_split_by_another_phone() -> None:
    # Some phones cut a UCS2 message between the halves of a surrogate pair.
    first = pdu.encode_deliver("+62", "ab", T0, smsc=None, concat=(7, 2, 1), encoding=Encoding.UCS2)
    first = first[:-8] + "0061D83D"  # "a" + high surrogate of U+1F691
    second = pdu.encode_deliver("+62", "ab", T0, smsc=None, concat=(7, 2, 2), encoding=Encoding.UCS2)
    second = second[:-8] + "DE910062"  # low surrogate + "b"
    r = Reassembler()
    assert r.add(pdu.decode_deliver(first)) is None
    assert r.add(pdu.decode_deliver(second)).text == "a🚑b"
    lone = pdu.decode_deliver(pdu.encode_deliver("+62", "ab", T0, encoding=Encoding.UCS2)[:-8] + "0061D83D")
    assert lone.text == "a\ufffd"  # a whole message never carries half a pair


def test_invalid_concatenation_element_is_ignored() -> None:
    # TS 23.040 9.2.3.24.1: sequence 0, or above the total, means the element is to be ignored.
    good = pdu.encode_deliver("+62", "ab", T0, concat=(5, 2, 1))
    assert "050003050201" in good and pdu.decode_deliver(good).concat == (5, 2, 1)
    for bad_ie in ("050003050200", "050003050203"):
        got = pdu.decode_deliver(good.replace("050003050201", bad_ie))
        assert (got.concat, got.text) == (None, "ab")
        assert Reassembler().add(got) == got  # so it is delivered at once, not held forever


# --- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["", "zz", "0", "07911326", "0011000B916407281553F80000AA0AE8329BFD4697D9", "00", "  ", "0791" + "00" * 3],
)
def test_malformed_raises_pdu_error(bad: str) -> None:
    for decode in (pdu.decode_deliver, pdu.decode_submit, pdu.decode_status_report, pdu.decode_pdu):
        with pytest.raises(PduError):
            decode(bad)


def test_wrong_type_and_bad_fields() -> None:
    submit = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    with pytest.raises(PduError, match="not an SMS-DELIVER"):
        pdu.decode_deliver(submit)
    with pytest.raises(PduError):
        pdu.decode_status_report(submit)
    good = DELIVERS[0].values[0]
    with pytest.raises(PduError, match="BCD"):
        pdu.decode_deliver(good.replace("20806291731408", "2080629173F408"))
    with pytest.raises(PduError, match="compressed"):
        pdu.decode_deliver(good.replace("F60000", "F60020"))
    with pytest.raises(PduError):
        pdu.decode_deliver(b"\x00")  # not a str


PUBLISHED = [p.values[0] for p in DELIVERS] + LOREM_PARTS + ["0006D60B911326880736F4111011719551401110117195714000"]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in (pdu.decode_deliver, pdu.decode_submit, pdu.decode_status_report, pdu.decode_pdu):
        try:
            decode(data.hex())
        except PduError:
            pass


@settings(max_examples=300)
@given(st.sampled_from(PUBLISHED), st.data())
def test_fuzz_mutated_published_pdus(hex_pdu: str, data: st.DataObject) -> None:
    raw = bytearray.fromhex(hex_pdu)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (raw.hex(), raw[:cut].hex()):
        try:
            pdu.decode_pdu(candidate)
        except PduError:
            pass


def test_every_truncation_raises_pdu_error() -> None:
    for hex_pdu in PUBLISHED:
        for cut in range(0, len(hex_pdu) - 2, 2):
            with pytest.raises(PduError):
                pdu.decode_pdu(hex_pdu[:cut])
