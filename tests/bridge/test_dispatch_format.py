"""The compact dispatch text and agency replies: one SMS and one frame whatever the fields,
round trips, forged or altered texts refused, the forgiving reply grammar, fuzzing."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from edge.enums import DispatchStatus, VictimCondition
from edge.models import Incident
from edge.profile import load_profile
from firmware_bridge.dispatch_format import (
    MAX_TYPE_NAME,
    BadAuth,
    DispatchMessage,
    Malformed,
    Reply,
    ReplyAction,
    ReplyParseError,
    UnknownCode,
    auth_of,
    gsm7_text,
    message_for,
    new_code,
    parse,
    parse_reply,
    place_text,
    render,
    render_reply,
    short_type_name,
    verify_reply,
)
from firmware_bridge.radio.ax25 import MAX_INFO

SECRET = b"damkar-shared-secret"
KEYS = {"DAMKAR": SECRET}
# GSM 03.38 basic character table (the escape 0x1B left out): one septet each.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
FIRE = DispatchMessage(
    code="4821", case_no="posko-bengkalis-2025-00012", incident_type=3, type_name="KEBAKARAN", priority=1,
    kecamatan="Bengkalis", desa="Senggoro", place="Jl. Pramuka 7 (Msj Al-Ikhlas)", lat=1.467101, lon=102.110199,
    victims=2, condition="injured", four_wheel=True,
)


def test_example_text_is_exactly_the_documented_grammar() -> None:
    text = render(FIRE, SECRET)
    lines = text.split("\n")
    assert lines[:5] == ["112 #4821 P1 3:KEBAKARAN", "posko-bengkalis-2025-00012", "Bengkalis/Senggoro",
                         "Jl. Pramuka 7 (Msj Al-Ikhlas)", "1.46710,102.11020"]
    assert lines[5].startswith("KORBAN 2 luka R4:ya K:") and len(lines[5]) == len("KORBAN 2 luka R4:ya K:") + 6
    assert parse(text, KEYS) == dataclasses.replace(FIRE, lat=1.4671, lon=102.1102)


def test_empty_fields_and_unknowns_render_and_parse() -> None:
    msg = dataclasses.replace(FIRE, kecamatan="", desa="", place="", lat=None, lon=None, victims=0,
                              condition="unknown", four_wheel=None)
    text = render(msg, SECRET)
    assert "-/-\n-\n-\nKORBAN 0 ? R4:? K:" in text
    assert parse(text, KEYS) == msg


def test_long_place_is_abbreviated_then_cut_keeping_landmark_and_fixed_fields() -> None:
    long = dataclasses.replace(FIRE, place=place_text(
        "Jalan Pramuka Nomor 7, RT 02 RW 05, belakang pasar ikan lama, sebelah gudang kopra", "Masjid Al-Ikhlas"))
    text = render(long, SECRET)
    assert len(text) <= 160
    place = text.split("\n")[3]
    assert place == "Jl. Pramuka No. 7, RT... (Msj Al-Ikhlas)"  # cut at a word end, landmark kept
    assert text.startswith("112 #4821 P1 3:KEBAKARAN\n") and "\nBengkalis/Senggoro\n" in text
    parsed = parse(text, KEYS)
    assert parsed.place == place and parsed.desa == "Senggoro"


def test_desa_then_kecamatan_are_cut_only_when_place_is_gone() -> None:
    msg = dataclasses.replace(FIRE, kecamatan="K" * 40, desa="D" * 40, place="P" * 40)  # 61 over
    text = render(msg, SECRET)
    parsed = parse(text, KEYS)
    assert len(text) == 160 and parsed.place == ""
    assert parsed.kecamatan == "K" * 40 and parsed.desa == "D" * 15 + "..."
    tight = parse(render(msg, SECRET, max_chars=120), KEYS)
    assert (tight.place, tight.desa, tight.kecamatan) == ("", "", "K" * 14 + "...")
    assert (tight.code, tight.type_name, tight.priority) == ("4821", "KEBAKARAN", 1)
    with pytest.raises(ValueError, match="cannot fit"):
        render(msg, SECRET, max_chars=103)  # 104 is the shortest this message can be


def test_non_gsm_characters_are_transliterated_not_ucs2() -> None:
    msg = dataclasses.replace(FIRE, desa="Sénggoro", place="Jl. “Pramuka” – dekat Bu Siti ☕ {RT 2}")
    text = render(msg, SECRET)
    assert set(text) <= GSM7_BASIC
    assert "Senggoro" in text and '"Pramuka" - dekat Bu Siti (RT 2)' in text


@pytest.mark.parametrize("field, value", [
    ("code", "482"), ("code", "48a1"), ("priority", 0), ("priority", 10), ("incident_type", 100),
    ("victims", -1), ("condition", "broken"), ("type_name", "Kebakaran rumah, kantor, hutan dan lahan"),
    ("type_name", "   "), ("case_no", ""), ("lat", 91.0), ("lon", None), ("four_wheel", "ya"),
])  # fmt: skip
def test_render_refuses_invalid_fields(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        render(dataclasses.replace(FIRE, **{field: value}), SECRET)


def test_wrong_key_altered_field_or_forged_code_is_bad_auth() -> None:
    text = render(FIRE, SECRET)
    with pytest.raises(BadAuth):
        parse(text, {"OTHER": b"another-agency-secret"})
    with pytest.raises(BadAuth):
        parse(text.replace("KORBAN 2", "KORBAN 9"), KEYS)
    with pytest.raises(BadAuth):
        parse(text.replace("#4821", "#4822"), KEYS)
    with pytest.raises(BadAuth):
        parse(text[:-6] + ("AAAAAA" if not text.endswith("AAAAAA") else "BBBBBB"), KEYS)
    with pytest.raises(BadAuth):
        parse(text, {})


def test_secret_chosen_by_callable_and_crlf_tolerated() -> None:
    text = render(FIRE, SECRET).replace("\n", "\r\n")
    seen: list[str] = []

    def pick(msg: DispatchMessage) -> bytes | None:
        seen.append(msg.case_no)
        return SECRET if msg.case_no.startswith("posko-bengkalis-") else None

    assert parse(text, pick).code == "4821" and seen == ["posko-bengkalis-2025-00012"]
    with pytest.raises(BadAuth):
        parse(text, lambda msg: None)
    assert parse(text.encode("ascii"), KEYS).case_no == FIRE.case_no


@pytest.mark.parametrize("text", [
    "", "halo", "112 #4821 P1 3:KEBAKARAN", "\n".join(["x"] * 6),
    render(FIRE, SECRET).replace("KORBAN 2 luka", "KORBAN 2 patah"),
    render(FIRE, SECRET).replace("1.46710", "1.4671"), render(FIRE, SECRET).replace("Bengkalis/", "Bengkalis "),
    render(FIRE, SECRET) + "\nextra", "\u00ff" * 10, "x" * 5000,
])  # fmt: skip
def test_malformed_texts(text: str) -> None:
    with pytest.raises(Malformed):
        parse(text, KEYS)
    with pytest.raises(Malformed):
        parse(text.encode("utf-8"), KEYS)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)


@st.composite
def messages(draw: st.DrawFn) -> DispatchMessage:
    has_coords = draw(st.booleans())
    return DispatchMessage(
        code=draw(st.from_regex(r"\A[0-9]{4}\Z")),
        case_no=draw(st.text(min_size=1, max_size=32)),
        incident_type=draw(st.integers(1, 99)),
        type_name=draw(st.text(min_size=1, max_size=MAX_TYPE_NAME)),
        priority=draw(st.integers(1, 9)),
        kecamatan=draw(TEXT), desa=draw(TEXT), place=draw(TEXT),
        lat=draw(st.floats(-90, 90)) if has_coords else None,
        lon=draw(st.floats(-180, 180)) if has_coords else None,
        victims=draw(st.integers(0, 9999)),
        condition=draw(st.sampled_from([c.value for c in VictimCondition])),
        four_wheel=draw(st.sampled_from([True, False, None])),
    )  # fmt: skip


@settings(max_examples=300)
@given(messages())
@example(dataclasses.replace(FIRE, case_no="x" * 32, type_name="Y" * 20, place="Z" * 200, lat=-89.999999,
                             lon=-179.999999, victims=9999, condition="mixed", four_wheel=False))
def test_render_parse_round_trip(msg: DispatchMessage) -> None:
    case_no, type_name = gsm7_text(msg.case_no), gsm7_text(msg.type_name)
    assume(0 < len(case_no) <= 32 and case_no != "-" and 0 < len(type_name) <= MAX_TYPE_NAME and type_name != "-")
    text = render(msg, SECRET)
    assert len(text) <= 160 and set(text) <= GSM7_BASIC  # one SMS of 7-bit characters ...
    assert len(text.encode("ascii")) <= MAX_INFO  # ... and one AX.25 frame
    parsed = parse(text, KEYS)
    fixed = ("code", "incident_type", "priority", "victims", "condition", "four_wheel")
    assert all(getattr(parsed, f) == getattr(msg, f) for f in fixed)
    assert parsed.case_no == case_no and parsed.type_name == type_name.upper()
    if msg.lat is None:
        assert parsed.lat is None and parsed.lon is None
    else:
        assert parsed.lat == pytest.approx(msg.lat, abs=6e-6) and parsed.lon == pytest.approx(msg.lon, abs=6e-6)
    for f in ("kecamatan", "desa", "place"):
        full = gsm7_text(getattr(msg, f))
        full = full.replace("/", "-") if f == "kecamatan" else full
        got = getattr(parsed, f)
        assert got == ("" if full == "-" else full) or got == "" or got.endswith("...") or f == "place"
    assert render(parsed, SECRET) == text  # what was carried renders to the same text again


@given(st.text(max_size=300))
def test_fuzz_parse_raises_only_named_errors(text: str) -> None:
    try:
        parse(text, KEYS)
    except (Malformed, BadAuth):
        pass


@given(messages(), st.integers(0, 159), st.characters(codec="ascii"))
def test_any_single_character_change_is_refused(msg: DispatchMessage, at: int, ch: str) -> None:
    assume(gsm7_text(msg.case_no) not in ("", "-") and len(gsm7_text(msg.case_no)) <= 32)
    assume(gsm7_text(msg.type_name) not in ("", "-") and len(gsm7_text(msg.type_name)) <= MAX_TYPE_NAME)
    text = render(msg, SECRET)
    at %= len(text)
    tampered = text[:at] + ch + text[at + 1 :]
    assume(tampered != text)
    try:
        got = parse(tampered, KEYS)
    except (Malformed, BadAuth):
        return
    # only changes the parser normalises away (spaces at line ends, "-" for empty) may pass
    assert got == parse(text, KEYS)


def test_bengkalis_types_have_short_distinct_names() -> None:
    profile = load_profile("bengkalis")
    names = {t.code: short_type_name(t.name_id) for t in profile.incident_types}
    assert names[3] == "KEBAKARAN" and names[4] == "LAKALANTAS" and names[2] == "SAR AIR"
    assert len(set(names.values())) == len(names) and all(len(n) <= MAX_TYPE_NAME for n in names.values())
    assert short_type_name("Tugas lain") == "TUGAS"  # "gas" inside a word is not a gas leak


def test_message_for_uses_incident_fields_and_codes_avoid_open_ones() -> None:
    incident = Incident(case_no="posko-a-2025-00001", incident_type=4, priority=1, kecamatan="Bantan",
                        desa="Selatbaru", address="Jl. Utama", landmark="SPBU", latitude=1.5, longitude=102.2,
                        victims_count=3, victims_condition="injured", four_wheel_access=False)
    msg = message_for(incident, "1234", "LAKALANTAS")
    assert msg.place == "Jl. Utama (SPBU)" and msg.victims == 3 and msg.four_wheel is False
    assert parse(render(msg, SECRET), KEYS).desa == "Selatbaru"
    in_use = {str(c) for c in range(1000, 9999)}
    assert new_code(in_use) == "9999"
    with pytest.raises(RuntimeError):
        new_code(in_use | {"9999"})


# --- replies ----------------------------------------------------------------------------

ACK, ROUTE, SCENE, DONE = (ReplyAction.ACKNOWLEDGED, ReplyAction.EN_ROUTE, ReplyAction.ON_SCENE,
                           ReplyAction.FINISHED)


@pytest.mark.parametrize("text, action, victims, hospital, crew", [
    ("OK 4821", ACK, None, None, None),
    ("ok4821", ACK, None, None, None),
    ("Terima 4821", ACK, None, None, None),
    ("4821 ok", ACK, None, None, None),
    ("  Ok,,   #4821 !! ", ACK, None, None, None),
    ("siap 4821", ACK, None, None, None),
    ("TIBA 4821", SCENE, None, None, None),
    ("di lokasi 4821", SCENE, None, None, None),
    ("jalan 4821", ROUTE, None, None, None),
    ("BERANGKAT 4821 crew 6", ROUTE, None, None, 6),
    ("otw #4821, 5 personel", ROUTE, None, None, 5),
    ("SELESAI 4821 2 korban ke RSUD", DONE, 2, "RSUD", None),
    ("selesai #4821 rsud bengkalis", DONE, None, "RSUD BENGKALIS", None),
    ("Selesai 4821. Korban 3 dibawa ke RS Permata Hati", DONE, 3, "RS PERMATA HATI", None),
    ("rujuk 4821 puskesmas bantan 1 korban", ReplyAction.HOSPITAL, 1, "PUSKESMAS BANTAN", None),
])  # fmt: skip
def test_forgiving_replies(text: str, action: ReplyAction, victims: int | None, hospital: str | None,
                           crew: int | None) -> None:
    reply = parse_reply(text)
    assert (reply.action, reply.code, reply.victims, reply.hospital, reply.crew) == (
        action, "4821", victims, hospital, crew)
    assert reply.auth is None


def test_actions_map_to_dispatch_statuses() -> None:
    assert [a.status for a in ReplyAction] == [DispatchStatus.ACKNOWLEDGED, DispatchStatus.EN_ROUTE,
                                                DispatchStatus.ON_SCENE, DispatchStatus.FINISHED, None]


def test_leftover_words_are_kept_as_note() -> None:
    assert parse_reply("Jalan 4821 lewat jembatan Selatbaru").note == "lewat jembatan Selatbaru"


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("halo selamat pagi", "no 4-digit"), ("OK", "no 4-digit"), ("4821", "no action word"),
    ("apa kabar 4821 ya", "no action word"), ("OK 482", "no 4-digit"), ("x" * 1000, "too long"),
    ("112 #4821 P1 3:KEBAKARAN", "no action word"),
])  # fmt: skip
def test_junk_replies_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ReplyParseError, match=message):
        parse_reply(text)


@given(st.text(max_size=200))
def test_fuzz_parse_reply_raises_only_reply_parse_error(text: str) -> None:
    try:
        reply = parse_reply(text)
    except ReplyParseError:
        return
    assert isinstance(reply, Reply) and len(reply.code) == 4 and reply.code.isdigit()


REPLY_VOCABULARY = ["OK", "terima", "JALAN", "tiba", "di", "lokasi", "Selesai", "rujuk", "RS", "rsud", "ke",
                    "Bengkalis", "korban", "crew", "#", ",", "!", "4821", "2", "12345", "K:abcd", "kasih", "\n"]


@given(st.lists(st.sampled_from(REPLY_VOCABULARY), max_size=12), st.sampled_from([" ", "", "  ", ", "]))
def test_fuzz_replies_made_of_real_words(words: list[str], sep: str) -> None:
    text = sep.join(words)
    try:
        reply = parse_reply(text)
    except ReplyParseError:
        return
    assert reply.code in text and isinstance(reply.action, ReplyAction)
    assert reply.victims is None or str(reply.victims) in text


def test_reply_auth_round_trip_and_tampering() -> None:
    dispatch_k = auth_of(render(FIRE, SECRET))
    text = render_reply("4821", DONE, victims=2, hospital="RSUD Bengkalis", secret=SECRET, dispatch_auth=dispatch_k)
    assert text.startswith("SELESAI 4821 2 korban ke RSUD BENGKALIS K:")
    reply = parse_reply(text.lower())  # a person retyping it in lower case still matches
    assert reply.auth == text[-4:]
    verify_reply(reply, SECRET, dispatch_auth=dispatch_k, open_codes={"4821"}, require_auth=True)
    with pytest.raises(BadAuth):  # victims changed after signing
        verify_reply(parse_reply(text.replace("2 korban", "5 korban")), SECRET, dispatch_auth=dispatch_k)
    with pytest.raises(BadAuth):  # an old reply replayed against a later dispatch with the same code
        verify_reply(reply, SECRET, dispatch_auth="ZZZZZZ")
    with pytest.raises(BadAuth):
        verify_reply(reply, b"wrong-secret", dispatch_auth=dispatch_k)
    with pytest.raises(UnknownCode):
        verify_reply(reply, SECRET, dispatch_auth=dispatch_k, open_codes={"1111"})
    plain = parse_reply("OK 4821")
    verify_reply(plain, SECRET)  # accepted on code (+ sender number, the caller's check) alone
    with pytest.raises(BadAuth, match="no K"):
        verify_reply(plain, SECRET, require_auth=True)


@given(st.sampled_from(list(ReplyAction)), st.one_of(st.none(), st.integers(0, 999)),
       st.one_of(st.none(), st.integers(0, 99)), st.one_of(st.none(), st.sampled_from(
           ["RSUD Bengkalis", "RS Permata Hati", "Puskesmas Bantan", "rsud mandau"])))
def test_rendered_replies_parse_back_and_verify(action: ReplyAction, victims: int | None, crew: int | None,
                                                hospital: str | None) -> None:
    code = "4821"
    text = render_reply(code, action, victims=victims, crew=crew, hospital=hospital, secret=SECRET,
                        dispatch_auth="ABCDEF")
    reply = parse_reply(text)
    assert (reply.action, reply.code, reply.victims, reply.crew) == (action, code, victims, crew)
    assert reply.hospital == (hospital.upper() if hospital else None)
    verify_reply(reply, SECRET, dispatch_auth="ABCDEF", require_auth=True)


@given(st.sampled_from(list(ReplyAction)), st.integers(0, 20000), st.text(max_size=30))
def test_render_reply_reads_back_or_refuses(action: ReplyAction, victims: int, hospital: str) -> None:
    try:
        text = render_reply("4821", action, victims=victims, hospital=hospital, secret=SECRET)
    except ValueError:
        return
    verify_reply(parse_reply(text), SECRET, require_auth=True)
    assert parse_reply(text).victims == victims


def test_render_reply_refuses_what_would_not_read_back() -> None:
    with pytest.raises(ValueError):
        render_reply("821", ReplyAction.ACKNOWLEDGED)
    with pytest.raises(ValueError):
        render_reply("4821", ReplyAction.ON_SCENE, hospital="Permata Hati")  # "ke PERMATA" is a place, not a hospital
    with pytest.raises(ValueError):
        render_reply("4821", ReplyAction.FINISHED, victims=12345)
    assert render_reply("4821", ReplyAction.FINISHED, hospital="Permata Hati") == "SELESAI 4821 ke PERMATA HATI"


def test_examples_in_the_docs_are_valid_dispatches() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "radio-and-sms-format.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```text\n(.*?)^```", doc, re.M | re.S) if b.startswith("112 #")]
    assert len(blocks) == 3
    for block in blocks:
        assert parse(block, {"doc": b"example-secret-DAMKAR-0123456789"}).code in block
    first = parse(blocks[0], {"doc": b"example-secret-DAMKAR-0123456789"})
    assert first == dataclasses.replace(FIRE, lat=1.4671, lon=102.1102)
    assert "K:RB6P" in doc and verify_reply(  # the reply example in the docs
        parse_reply("SELESAI 4821 2 korban ke RSUD BENGKALIS K:RB6P"), b"example-secret-DAMKAR-0123456789",
        dispatch_auth=auth_of(blocks[0]), require_auth=True) is None
