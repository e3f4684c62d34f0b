"""Fuzzing the SMS PDU decoder beyond tests/bridge/test_pdu.py.

That file already decodes random bytes (as clean hex), published PDUs with 1-4 bytes replaced
and truncated, and round-trips SMS-SUBMIT text. Added here: arbitrary *strings* as hex (odd
length, spaces, non-hex and non-ASCII characters), structural mutations (insertions, cuts,
swaps, length-octet rewrites) of freshly encoded DELIVER, SUBMIT and STATUS-REPORT PDUs, the
reassembler fed the mutated parts, and DELIVER / STATUS-REPORT round trips. Only PduError may
come out of a decoder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from firmware_bridge.modem import gsm7, pdu
from firmware_bridge.modem.pdu import Deliver, PduError, Reassembler, StatusReport, Submit
from tests.fuzz.profile import FUZZ

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=7)))
DECODERS = (pdu.decode_deliver, pdu.decode_submit, pdu.decode_status_report, pdu.decode_pdu)
GSM7_CHARS = [c for c in gsm7.DEFAULT_ALPHABET if c != "\x1b"] + list(gsm7.EXTENSION.values())
VALID = [
    *pdu.encode_deliver_parts("+6281234567", "Kebakaran di Jl. Sudirman {ext} €" * 8, T0, reference=9),
    *pdu.encode_deliver_parts("BPBD", "Banjir 🚑 ошибка" * 3, T0, reference=200, smsc=None),
    pdu.encode_deliver("0812", "OK 4821", T0),
    *(p.hex for p in pdu.encode_submit("+628123", "TIBA 4821 K:ab12" * 12, reference=7)),
    pdu.encode_status_report(17, "+628123", 0, timestamp=T0),
    pdu.encode_status_report(255, "0812", 70, smsc=None, timestamp=T0),
]


def _decode_all(text: str) -> None:
    for decode in DECODERS:
        try:
            result = decode(text)
        except PduError:
            continue
        assert isinstance(result, Deliver | Submit | StatusReport)


@FUZZ
@given(st.text(st.sampled_from("0123456789ABCDEFabcdef \t\n") | st.characters(), max_size=200))
@example("0")
@example(" 00 ")
@example("0Ｆ")
@example("٠٠")
def test_arbitrary_hex_strings(text: str) -> None:
    _decode_all(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    raw = bytearray.fromhex(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        n = len(raw)
        at = draw(st.integers(0, n - 1)) if n else 0
        how = draw(st.sampled_from(["byte", "flip", "insert", "cut", "swap", "length"]))
        if how == "byte" and n:
            raw[at] = draw(st.integers(0, 255))
        elif how == "flip" and n:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif how == "cut":
            del raw[at : at + draw(st.integers(1, 20))]
        elif how == "swap" and n > 1:
            b = draw(st.integers(0, n - 1))
            raw[at], raw[b] = raw[b], raw[at]
        elif how == "length" and n:  # SMSC length, address length, UDL and UDHL sit at small offsets
            raw[min(at, draw(st.sampled_from([0, 1, 2, 3, 9, 10, 12, 20, 21, 22])) % n)] = draw(
                st.sampled_from([0, 1, 7, 11, 12, 140, 153, 160, 161, 255]))
    return raw.hex().upper()


@FUZZ
@given(mutated())
def test_mutated_valid_pdus(text: str) -> None:
    _decode_all(text)


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=8))
def test_reassembler_takes_any_decoded_parts(texts: list[str]) -> None:
    reassembler = Reassembler(clock=lambda: T0)
    for text in texts:
        try:
            deliver = pdu.decode_deliver(text)
        except PduError:
            continue
        whole = reassembler.add(deliver)
        assert whole is None or isinstance(whole.text, str)
    assert all(isinstance(d, Deliver) for d in reassembler.expire(timedelta(0)))


phone = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
when = st.datetimes(datetime(1980, 1, 2), datetime(2079, 12, 30), timezones=st.sampled_from(
    [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-45)), timezone(timedelta(hours=13))],
)).map(lambda d: d.replace(microsecond=0))


@FUZZ
@given(phone, st.text(GSM7_CHARS, max_size=160) | st.text(st.characters(exclude_categories=("Cs",)), max_size=70),
       when, st.one_of(st.none(), phone))
def test_deliver_round_trip(sender: str, text: str, at: datetime, smsc: str | None) -> None:
    parts = [pdu.decode_deliver(h) for h in pdu.encode_deliver_parts(sender, text, at, reference=1, smsc=smsc)]
    assert "".join(p.text for p in parts) == text
    assert all(p.timestamp == at and p.sender.lstrip("+") == sender.lstrip("+") for p in parts)


@FUZZ
@given(st.integers(0, 255), phone, st.integers(0, 255), when, when)
def test_status_report_round_trip(ref: int, recipient: str, status: int, at: datetime, done: datetime) -> None:
    report = pdu.decode_status_report(pdu.encode_status_report(ref, recipient, status, timestamp=at,
                                                               discharge_time=done))
    assert (report.message_ref, report.status, report.discharge_time) == (ref, status, done)
    assert report.recipient.lstrip("+") == recipient.lstrip("+")
