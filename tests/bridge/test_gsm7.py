"""GSM 03.38 alphabet and septet packing, against published examples and with generated text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.modem import gsm7
from firmware_bridge.modem.gsm7 import ESCAPE, NotGsm7

GSM7_CHARS = [c for c in gsm7.DEFAULT_ALPHABET if c != "\x1b"] + list(gsm7.EXTENSION.values())
gsm7_text = st.text(alphabet=GSM7_CHARS, max_size=400)


# Published packings: "hellohello" from the dreamfabric.com SMS-SUBMIT walkthrough, the user data
# of its SMS-DELIVER example ("How are you?"), and python-gsmmodem's "Hello World!" submit.
@pytest.mark.parametrize(
    ("text", "packed"),
    [
        ("hellohello", "e8329bfd4697d9ec37"),
        ("How are you?", "c8f71d14969741f977fd07"),
        ("Hello World!", "c8329bfd065ddf72363904"),
    ],
)
def test_published_packings(text: str, packed: str) -> None:
    assert gsm7.pack(gsm7.to_septets(text)).hex() == packed
    assert gsm7.from_septets(gsm7.unpack(bytes.fromhex(packed), len(text))) == text


def test_default_alphabet_positions() -> None:
    # TS 23.038 table 6.2.1: a few landmarks that a shifted table would get wrong.
    assert gsm7.to_septets("@£$¥") == [0x00, 0x01, 0x02, 0x03]
    assert gsm7.to_septets("é") == [0x05]
    assert gsm7.to_septets("Δ") == [0x10]
    assert gsm7.to_septets("¤") == [0x24]
    assert gsm7.to_septets("¡A") == [0x40, 0x41]
    assert gsm7.to_septets("§¿à") == [0x5F, 0x60, 0x7F]


def test_extension_characters_cost_two_septets() -> None:
    assert gsm7.to_septets("€") == [ESCAPE, 0x65]
    assert gsm7.to_septets("[") == [ESCAPE, 0x3C]
    assert gsm7.to_septets("\f") == [ESCAPE, 0x0A]
    special = "€[]{}^~\\|\f"
    assert gsm7.septet_count(special) == 2 * len(special)
    assert gsm7.septet_count("Rp 5.000 {lunas}") == len("Rp 5.000 {lunas}") + 2
    assert gsm7.from_septets(gsm7.to_septets(special)) == special


def test_is_gsm7() -> None:
    assert gsm7.is_gsm7("Kebakaran di Desa Sungai Alam, 2 korban. Tim meluncur!")
    assert gsm7.is_gsm7("café é è ü Ñ")  # these are in the default alphabet: still 160 per SMS
    assert not gsm7.is_gsm7("Ambulans 🚑")
    assert not gsm7.is_gsm7("ç")  # only the capital Ç is in the table
    assert not gsm7.is_gsm7("\x1b")  # the escape itself is no character
    assert gsm7.is_gsm7("")


def test_not_gsm7_names_the_character() -> None:
    with pytest.raises(NotGsm7) as info:
        gsm7.to_septets("OK 4821 🚑")
    assert info.value.char == "🚑"
    assert info.value.position == 8
    assert isinstance(info.value, ValueError)


def test_escape_before_unknown_code_and_dangling_escape() -> None:
    # TS 23.038: an unknown extension code shows the default-table character; 1B1B is a space.
    assert gsm7.from_septets([ESCAPE, 0x41]) == "A"
    assert gsm7.from_septets([ESCAPE, ESCAPE]) == " "
    assert gsm7.from_septets([0x41, ESCAPE]) == "A "
    with pytest.raises(ValueError):
        gsm7.from_septets([0x80])


def test_fill_bits_leave_low_bits_zero() -> None:
    septets = gsm7.to_septets("OK")
    packed = gsm7.pack(septets, fill_bits=1)
    assert packed[0] & 0x01 == 0
    assert packed == bytes([0x9E, 0x4B])  # O (0x4F) shifted past the fill bit, then K
    assert gsm7.unpack(packed, 2, fill_bits=1) == septets
    # Concatenated-SMS case: 6-octet header then 1 fill bit; 153 septets fill 134 octets exactly.
    assert len(gsm7.pack([0x41] * 153, fill_bits=1)) == 134
    with pytest.raises(ValueError):
        gsm7.pack([0x41], fill_bits=7)


def test_unpack_refuses_short_data() -> None:
    with pytest.raises(ValueError):
        gsm7.unpack(bytes.fromhex("e8329b"), 10)
    with pytest.raises(ValueError):
        gsm7.unpack(b"", -1)


@given(gsm7_text)
def test_text_round_trip(text: str) -> None:
    septets = gsm7.to_septets(text)
    assert gsm7.septet_count(text) == len(septets) >= len(text)
    assert gsm7.from_septets(gsm7.unpack(gsm7.pack(septets), len(septets))) == text


@given(st.lists(st.integers(0, 0x7F), max_size=300), st.integers(0, 6))
def test_pack_unpack_round_trip(septets: list[int], fill: int) -> None:
    packed = gsm7.pack(septets, fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert gsm7.unpack(packed, len(septets), fill) == septets


@given(gsm7_text, st.integers(2, 160))
def test_split_never_separates_an_escape_pair(text: str, per_part: int) -> None:
    septets = gsm7.to_septets(text)
    parts = gsm7.split_septets(septets, per_part)
    assert [s for part in parts for s in part] == septets
    for part in parts:
        assert len(part) <= per_part
        # Each part decodes on its own to whole characters: no part ends with a lone escape.
        assert gsm7.to_septets(gsm7.from_septets(part)) == part


def test_split_moves_the_escape_pair_to_the_next_part() -> None:
    septets = gsm7.to_septets("a" * 152 + "€")  # 154 septets; 153 would cut the € in half
    parts = gsm7.split_septets(septets, 153)
    assert [len(p) for p in parts] == [152, 2]
    assert gsm7.from_septets(parts[1]) == "€"
    assert gsm7.split_septets([], 153) == [[]]
