"""Fuzzing the dispatch text parser and the SMS reply parser beyond tests/bridge/test_dispatch_format.py.

That file already feeds arbitrary `st.text()` to parse and parse_reply, single ASCII character
changes of a rendered dispatch, and replies made of real words. Added here: text built from the
GSM-7 extension table ({}[]~|\\^€ and form feed), UCS2-only text (what arrives when a phone
switches encoding: Arabic-Indic and full-width digits, emoji, combining marks), dispatch texts
with several such characters spliced in or lines shuffled, bytes input, and reply words mixed
with such characters. Only the module's DispatchFormatError subclasses may come out.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from firmware_bridge.dispatch_format import (
    DispatchFormatError,
    DispatchMessage,
    Malformed,
    Reply,
    ReplyAction,
    ReplyParseError,
    parse,
    parse_reply,
    render,
    render_reply,
)
from firmware_bridge.modem import gsm7
from tests.fuzz.profile import FUZZ

SECRET = b"damkar-shared-secret"
KEYS = {"DAMKAR": SECRET}
FIRE = DispatchMessage(
    code="4821", case_no="posko-bengkalis-2025-00012", incident_type=3, type_name="KEBAKARAN", priority=1,
    kecamatan="Bengkalis", desa="Senggoro", place="Jl. Pramuka 7 (Msj Al-Ikhlas)", lat=1.467101, lon=102.110199,
    victims=2, condition="injured", four_wheel=True,
)
VALID_TEXTS = [render(FIRE, SECRET), render(FIRE.__class__(**{**FIRE.__dict__, "lat": None, "lon": None}), SECRET)]
GSM7_EXT = list(gsm7.EXTENSION.values())
UCS2_ODD = ["٤", "٨", "٢", "١", "０", "４", "８", "２", "１", "²", "½", "Ⅻ", "🚑", "é", "\u200b", "\u00a0",
            "\u2028", "\u0085", "ß", "İ", "ﬁ", "Ｋ", "：", "＃", "\ufeff", "\x00", "\x1b", "\r", "\n", "\t", "\u0301"]
odd_char = st.sampled_from(GSM7_EXT + UCS2_ODD) | st.characters(exclude_categories=("Cs",))
ACTION_WORDS = ["OK", "terima", "jalan", "berangkat", "tiba", "selesai", "rujuk", "batal", "tolak", "ke", "RSUD",
                "korban", "crew", "K:", "#"]


def _parse_only_named_errors(text: str | bytes) -> None:
    try:
        msg = parse(text, KEYS)
    except DispatchFormatError:
        return
    assert isinstance(msg, DispatchMessage) and msg.code.isascii() and msg.code.isdigit()


def _reply_only_named_errors(text: str) -> None:
    try:
        reply = parse_reply(text)
    except ReplyParseError:
        return
    assert isinstance(reply, Reply) and isinstance(reply.action, ReplyAction)
    assert len(reply.code) == 4 and reply.code.isascii() and reply.code.isdigit()


@FUZZ
@given(st.sampled_from(VALID_TEXTS), st.lists(st.tuples(st.integers(0, 200), odd_char, st.booleans()),
                                              min_size=1, max_size=5))
@example(VALID_TEXTS[0], [(6, "٤", False)])  # found: a non-ASCII digit in the code crashed parse()
@example(VALID_TEXTS[0], [(60, "\x80", True)])
def test_dispatch_with_odd_characters_spliced_in(text: str, edits: list[tuple[int, str, bool]]) -> None:
    for at, ch, insert in edits:
        at %= len(text) + 1
        text = text[:at] + ch + text[at + (0 if insert else 1) :]
    _parse_only_named_errors(text)
    _parse_only_named_errors(text.encode("utf-8"))


@FUZZ
@given(st.sampled_from(VALID_TEXTS), st.permutations(range(6)), st.integers(0, 6))
def test_dispatch_lines_shuffled_or_dropped(text: str, order: list[int], drop: int) -> None:
    lines = text.split("\n")
    kept = [lines[i] for i in order if i != drop]
    _parse_only_named_errors("\n".join(kept))
    _parse_only_named_errors("\r\n".join(kept))


@FUZZ
@given(st.text(st.sampled_from(GSM7_EXT + ["\n", " ", "1", "2", "#", ":", "K"]), max_size=200)
       | st.text(st.sampled_from(UCS2_ODD), max_size=200) | st.binary(max_size=200))
def test_dispatch_parser_on_extension_and_ucs2_text(text: str | bytes) -> None:
    _parse_only_named_errors(text)


reply_text = st.lists(st.sampled_from(ACTION_WORDS) | st.from_regex(r"[0-9]{1,5}", fullmatch=True) | odd_char
                      | st.text(st.sampled_from(GSM7_EXT + UCS2_ODD), min_size=1, max_size=4),
                      max_size=12).map(" ".join)


@FUZZ
@given(reply_text)
@example("OK ٤٨٢١")
@example("OK ４８２１")
@example("SELESAI 4821 ٢ korban")
@example("OK 4821 K:ＡＢＣＤ")
def test_reply_parser_on_extension_and_ucs2_text(text: str) -> None:
    _reply_only_named_errors(text)


@FUZZ
@given(st.sampled_from(list(ReplyAction)), st.from_regex(r"[0-9]{4}", fullmatch=True),
       st.lists(st.tuples(st.integers(0, 60), odd_char), min_size=1, max_size=4))
def test_rendered_reply_with_odd_characters(action: ReplyAction, code: str, edits: list[tuple[int, str]]) -> None:
    text = render_reply(code, action)
    assert parse_reply(text).code == code
    for at, ch in edits:
        at %= len(text) + 1
        text = text[:at] + ch + text[at:]
    _reply_only_named_errors(text)


def test_regression_non_ascii_dispatch_is_malformed_not_a_crash() -> None:
    """Found by fuzzing: parse() raised UnicodeEncodeError building the canonical form."""
    text = VALID_TEXTS[0]
    for bad in (text.replace("#4821", "#٤821"), text.replace("Pramuka", "Prämuka")):
        with pytest.raises(Malformed, match="outside ASCII"):
            parse(bad, KEYS)
    assert parse(text, KEYS).code == "4821"
