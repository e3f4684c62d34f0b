"""Routing profiles (edge/profile.py and edge/profiles/*.toml), on the real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.profile import (
    AGENCY_KINDS,
    BUILTIN_DIR,
    SOP_STEP_KEYS,
    AgencySpec,
    IncidentTypeSpec,
    Profile,
    ProfileError,
    SopStep,
    builtin_names,
    load_profile,
)

# Lampiran I as digested in /work/shared/DOMAIN.md, written out independently of the TOML.
BENGKALIS_MATRIX: dict[int, tuple[str, ...]] = {
    1: ("DINKES", "RSUD_BENGKALIS", "RSUD_MANDAU", "PUSKESMAS"),
    2: ("BPBD", "DINKES", "SATPOLPP", "POLRES", "BASARNAS", "DAMKAR", "TNI_AL"),
    3: ("DINKES", "DAMKAR", "DISHUB", "SATPOLPP", "POLRES", "PLN", "BPBD"),
    4: ("DAMKAR", "DINKES", "DISHUB", "POLRES"),
    5: ("DINKES", "SATPOLPP", "POLRES", "KOMNAS_PA"),
    6: ("BPBD", "DLH", "DINKES", "SATPOLPP", "POLRES", "PGN"),
    7: ("BPBD", "DAMKAR", "DLH", "DINKES", "POLRES", "PLN"),
    8: ("DINKES", "DAMKAR", "SATPOLPP", "POLRES"),
    9: ("BPBD", "DAMKAR", "DISHUB", "DINKES", "SATPOLPP", "POLRES", "PLN"),
    10: ("BPBD", "DAMKAR", "DINKES", "DISHUB", "POLRES", "SATPOLPP"),
    11: ("DINKES", "SATPOLPP", "POLRES"),
    12: ("BPBD", "DAMKAR", "DINKES", "DISHUB", "SATPOLPP", "RSUD_BENGKALIS", "RSUD_MANDAU"),
}

# Lampiran II "Mutu Baku - Waktu", in seconds.
BENGKALIS_STANDARDS = {
    "receive": 120, "record": 180, "contact": 120, "confirm": 300,
    "hospital": 180, "hospital_report": 120, "coordinate": 600, "close": 300,
}
# Semarang SOP, Mutu Baku Waktu: 30 s, 4, 2, (3 + 15 field: no key), 7, 5, 2 min; no hospital steps.
SEMARANG_STANDARDS = {
    **BENGKALIS_STANDARDS,
    "receive": 30, "record": 240, "contact": 120, "confirm": 420, "coordinate": 300, "close": 120,
}
# Cilegon SOP, Deskripsi Jangka Waktu: "30 detik - 1 menit" twice, stricter bound; rest inherited.
CILEGON_STANDARDS = {**BENGKALIS_STANDARDS, "receive": 30, "record": 30}


@pytest.fixture(scope="module")
def bengkalis() -> Profile:
    return load_profile("bengkalis")


def test_builtin_names_include_the_three_profiles():
    assert {"bengkalis", "semarang", "cilegon"} <= set(builtin_names())
    assert builtin_names() == sorted(builtin_names())


def test_bengkalis_has_the_twelve_incident_types(bengkalis):
    assert [t.code for t in bengkalis.incident_types] == list(range(1, 13))
    for t in bengkalis.incident_types:
        assert t.name_id and t.name_en and t.priority in (1, 2, 3)


@pytest.mark.parametrize("code", sorted(BENGKALIS_MATRIX))
def test_bengkalis_matrix_matches_lampiran_i(bengkalis, code):
    assert bengkalis.suggested_agencies(code) == BENGKALIS_MATRIX[code]
    assert bengkalis.incident_type(code).agencies == BENGKALIS_MATRIX[code]


def test_bengkalis_fire_row_is_as_in_the_schema(bengkalis):
    fire = bengkalis.incident_type(3)
    assert fire == IncidentTypeSpec(
        3, "Kebakaran rumah, kantor, hutan dan lahan", "Fire: house, office, forest and land", 1,
        ("DINKES", "DAMKAR", "DISHUB", "SATPOLPP", "POLRES", "PLN", "BPBD"),
    )


def test_bengkalis_directory_has_pasal_6_and_lampiran_agencies(bengkalis):
    codes = {a.code for a in bengkalis.agencies}
    pasal_6 = {"DINSOS", "DISDUKCAPIL", "PUPR", "DP3A", "KODIM_0303", "PMI", "DPMPTSP", "BASARNAS",
               "POLRES", "PLN", "BPBD", "DINKES", "SATPOLPP", "DAMKAR", "DISHUB", "RSUD_BENGKALIS"}
    assert pasal_6 <= codes
    assert {c for row in BENGKALIS_MATRIX.values() for c in row} <= codes
    assert "DISKOMINFOTIK" in codes
    assert bengkalis.agency("DAMKAR").kind == "fire"
    assert bengkalis.agency("POLRES").kind == "police"
    assert bengkalis.agency("RSUD_MANDAU").kind == "hospital"
    assert all(a.kind in AGENCY_KINDS for a in bengkalis.agencies)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("bengkalis", BENGKALIS_STANDARDS), ("semarang", SEMARANG_STANDARDS), ("cilegon", CILEGON_STANDARDS)],
)
def test_time_standards(name, expected):
    profile = load_profile(name)
    assert {s.key: s.standard_seconds for s in profile.sop_steps} == expected
    assert [s.key for s in profile.sop_steps] == list(SOP_STEP_KEYS)
    assert profile.amber_ratio == 0.75


def test_bengkalis_step_numbers_follow_lampiran_ii(bengkalis):
    steps = {s.key: s.step for s in bengkalis.sop_steps}
    assert steps == {"receive": 1, "record": 2, "contact": 3, "confirm": 5, "hospital": 8,
                     "hospital_report": 10, "coordinate": 11, "close": 12}
    receive = SopStep("receive", 1, "Menerima panggilan", "Receive the call", 120)
    assert bengkalis.sop_step("receive") == receive


@pytest.mark.parametrize("name", ["semarang", "cilegon"])
def test_alternative_profiles_inherit_matrix_and_agencies(bengkalis, name):
    profile = load_profile(name)
    assert profile.id == name
    assert profile.name != bengkalis.name
    assert profile.source != bengkalis.source and "SOP" in profile.source
    assert profile.agencies == bengkalis.agencies
    assert profile.incident_types == bengkalis.incident_types
    # overridden steps keep the parent's names and step numbers
    for step in profile.sop_steps:
        parent = bengkalis.sop_step(step.key)
        assert (step.step, step.name_id, step.name_en) == (parent.step, parent.name_id, parent.name_en)


def test_load_by_path_equals_load_by_name(bengkalis):
    assert load_profile(BUILTIN_DIR / "bengkalis.toml") == bengkalis
    assert load_profile(str(BUILTIN_DIR / "semarang.toml")) == load_profile("semarang")


@pytest.mark.parametrize("name", ["bengkalis", "semarang", "cilegon"])
def test_to_dict_from_dict_round_trip(name):
    profile = load_profile(name)
    d = profile.to_dict()
    assert "extends" not in d["profile"]
    again = Profile.from_dict(json.loads(json.dumps(d)))
    assert again == profile
    assert again.to_dict() == d


def test_lookups(bengkalis):
    assert bengkalis.agency("BPBD") == AgencySpec(
        "BPBD", "Badan Penanggulangan Bencana Daerah", "Regional Disaster Management Agency", "disaster")
    with pytest.raises(ProfileError, match="unknown incident type 13"):
        bengkalis.incident_type(13)
    with pytest.raises(ProfileError, match="unknown agency 'XYZ'"):
        bengkalis.agency("XYZ")
    with pytest.raises(ProfileError, match="unknown step key 'answer'"):
        bengkalis.sop_step("answer")
    d = bengkalis.to_dict()
    d["sop_steps"] = [s for s in d["sop_steps"] if s["key"] != "hospital"]
    assert Profile.from_dict(d).sop_step("hospital") is None


# --- inheritance from files outside the builtin dir ---------------------------------------------

MINIMAL = '''
[profile]
id = "mini"
name = "Mini"
source = "test"
amber_ratio = 0.5

[[agencies]]
code = "AAA"
name_id = "Agensi A"
name_en = "Agency A"
kind = "fire"

[[agencies]]
code = "BBB"
name_id = "Agensi B"
name_en = "Agency B"
kind = "police"

[[incident_types]]
code = 1
name_id = "Jenis satu"
name_en = "Type one"
priority = 1
agencies = ["AAA", "BBB"]

[[incident_types]]
code = 2
name_id = "Jenis dua"
name_en = "Type two"
priority = 2
agencies = ["BBB"]

[[sop_steps]]
key = "receive"
step = 1
name_id = "Terima"
name_en = "Receive"
standard_seconds = 60

[[sop_steps]]
key = "close"
step = 12
name_id = "Tutup"
name_en = "Close"
standard_seconds = 90
'''


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_file_loads(tmp_path):
    profile = load_profile(_write(tmp_path, "mini.toml", MINIMAL))
    assert profile.suggested_agencies(1) == ("AAA", "BBB")
    assert profile.sop_step("close").standard_seconds == 90
    assert profile.amber_ratio == 0.5


def test_child_extends_sibling_file_field_by_field(tmp_path):
    _write(tmp_path, "mini.toml", MINIMAL)
    child = _write(tmp_path, "child.toml", '''
[profile]
id = "child"
extends = "mini"
name = "Child"

[[sop_steps]]
key = "close"
standard_seconds = 45

[[sop_steps]]
key = "contact"
step = 3
name_id = "Hubungi"
name_en = "Contact"
standard_seconds = 100

[[incident_types]]
code = 2
agencies = ["AAA"]
''')
    profile = load_profile(child)
    assert (profile.id, profile.name, profile.source, profile.amber_ratio) == ("child", "Child", "test", 0.5)
    assert profile.sop_step("close") == SopStep("close", 12, "Tutup", "Close", 45)
    assert profile.sop_step("receive").standard_seconds == 60
    assert [s.key for s in profile.sop_steps] == ["receive", "close", "contact"]
    assert profile.incident_type(2) == IncidentTypeSpec(2, "Jenis dua", "Type two", 2, ("AAA",))
    assert "extends" not in profile.to_dict()["profile"]


def test_extends_prefers_builtin_dir(tmp_path):
    _write(tmp_path, "bengkalis.toml", MINIMAL)  # a decoy next to the child
    child = _write(tmp_path, "kid.toml", '[profile]\nid = "kid"\nextends = "bengkalis"\n')
    profile = load_profile(child)
    assert len(profile.incident_types) == 12
    assert profile.suggested_agencies(3) == BENGKALIS_MATRIX[3]


def test_extends_cycle_is_an_error(tmp_path):
    _write(tmp_path, "ping.toml", '[profile]\nid = "ping"\nextends = "pong"\n')
    _write(tmp_path, "pong.toml", '[profile]\nid = "pong"\nextends = "ping"\n')
    with pytest.raises(ProfileError, match=r"ping\.toml: profile\.extends: cycle ping\.toml -> pong\.toml"):
        load_profile(tmp_path / "ping.toml")
    _write(tmp_path, "self.toml", '[profile]\nid = "self"\nextends = "self"\n')
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(tmp_path / "self.toml")


def test_extends_unknown_profile(tmp_path):
    child = _write(tmp_path, "orphan.toml", '[profile]\nid = "orphan"\nextends = "atlantis"\n')
    with pytest.raises(ProfileError, match="orphan.toml: profile.extends: unknown profile 'atlantis'"):
        load_profile(child)


def test_child_error_names_the_child_file(tmp_path):
    _write(tmp_path, "mini.toml", MINIMAL)
    text = '[profile]\nid = "c"\nextends = "mini"\n\n[[sop_steps]]\nkey = "close"\nstandard_seconds = -1\n'
    child = _write(tmp_path, "bad_child.toml", text)
    with pytest.raises(ProfileError, match=r"^bad_child\.toml: sop_steps\[0\]\.standard_seconds: must be"):
        load_profile(child)


def test_child_new_step_needs_all_fields(tmp_path):
    _write(tmp_path, "mini.toml", MINIMAL)
    text = '[profile]\nid = "c2"\nextends = "mini"\n\n[[sop_steps]]\nkey = "confirm"\nstandard_seconds = 5\n'
    child = _write(tmp_path, "c2.toml", text)
    with pytest.raises(ProfileError, match=r"c2\.toml: sop_steps\[2\]\.step: missing"):
        load_profile(child)


# --- validation errors --------------------------------------------------------------------------

BROKEN = [
    # (old text, new text, expected message after "broken.toml: ")
    ('name_en = "Agency A"\n', "", "agencies[0].name_en: missing"),
    ('source = "test"\n', "", "profile.source: missing"),
    ("priority = 2", 'priority = "2"', "incident_types[1].priority: expected int"),
    ("priority = 2", "priority = true", "incident_types[1].priority: expected int"),
    ("standard_seconds = 60", "standard_seconds = 60.0", "sop_steps[0].standard_seconds: expected int"),
    ('agencies = ["BBB"]', 'agencies = "BBB"', "incident_types[1].agencies: expected list"),
    ('name = "Mini"', "name = 5", "profile.name: expected str"),
    ('name = "Mini"', 'name = " "', "profile.name: must not be empty"),
    ('code = "BBB"', 'code = "AAA"', "agencies[1].code: duplicate code 'AAA'"),
    ("code = 2", "code = 1", "incident_types[1].code: duplicate code 1"),
    ('key = "close"', 'key = "receive"', "sop_steps[1].key: duplicate key 'receive'"),
    ('agencies = ["BBB"]', 'agencies = ["BBB", "XYZ"]', "incident_types[1].agencies: unknown agency 'XYZ'"),
    ('agencies = ["BBB"]', 'agencies = ["BBB", "BBB"]', "incident_types[1].agencies: duplicate agency"),
    ('key = "close"', 'key = "answer"', "sop_steps[1].key: unknown step key 'answer'"),
    ("standard_seconds = 90", "standard_seconds = 0", "sop_steps[1].standard_seconds: must be positive"),
    ("standard_seconds = 90", "standard_seconds = -30", "sop_steps[1].standard_seconds: must be positive"),
    ("step = 12", "step = 0", "sop_steps[1].step: must be positive"),
    ("priority = 2", "priority = 0", "incident_types[1].priority: must be 1, 2 or 3"),
    ("priority = 2", "priority = 4", "incident_types[1].priority: must be 1, 2 or 3"),
    ("amber_ratio = 0.5", "amber_ratio = 0", "profile.amber_ratio: must be between 0 and 1"),
    ("amber_ratio = 0.5", "amber_ratio = 1.0", "profile.amber_ratio: must be between 0 and 1"),
    ("amber_ratio = 0.5", "amber_ratio = 1.5", "profile.amber_ratio: must be between 0 and 1"),
    ("amber_ratio = 0.5", 'amber_ratio = "0.5"', "profile.amber_ratio: expected float"),
    ('kind = "police"', 'kind = "navy"', "agencies[1].kind: unknown kind 'navy'"),
    ('code = "BBB"', 'code = "bbb"', "agencies[1].code: agency code must be upper-case"),
    ('code = "BBB"', 'code = "BÉB"', "agencies[1].code: agency code must be upper-case"),
    ("code = 2", "code = 100", "incident_types[1].code: must be 1..99"),
    ("code = 2", "code = 0", "incident_types[1].code: must be 1..99"),
    ("[profile]", "[profile]\ncolour = 1", "profile.colour: unknown field"),
    ("standard_seconds = 90", "standard_second = 90", "sop_steps[1].standard_second: unknown field"),
    ("[[incident_types]]\ncode = 1", "[[incident_type]]\ncode = 1", "incident_type: unknown top-level key"),
    ("[profile]", "version = 2\n[profile]", "version: unknown top-level key"),
    ('id = "mini"\n', "", "profile.id: missing"),
    ("[profile]", "[profile]\nextends = 3", "profile.extends: expected str"),
    ("[profile]", "[profilee]", "profilee: unknown top-level key"),
    ('name_id = "Jenis satu"', 'name_id = "Jenis satu', "invalid TOML"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN, ids=[b[2] for b in BROKEN])
def test_validation_errors(tmp_path, old, new, message):
    assert MINIMAL.count(old) >= 1
    text = MINIMAL.replace(old, new, 1)
    assert text != MINIMAL
    path = _write(tmp_path, "broken.toml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith("broken.toml: ")
    assert message in str(info.value)


def test_missing_section_in_a_root_profile(tmp_path):
    text = MINIMAL.split("[[sop_steps]]")[0]
    with pytest.raises(ProfileError, match=r"^nosteps\.toml: sop_steps: missing"):
        load_profile(_write(tmp_path, "nosteps.toml", text))


def test_section_not_an_array(tmp_path):
    text = "sop_steps = 1\n" + MINIMAL.split("[[sop_steps]]")[0]
    with pytest.raises(ProfileError, match=r"^flat\.toml: sop_steps: expected an array of tables, got int"):
        load_profile(_write(tmp_path, "flat.toml", text))


def test_missing_files():
    with pytest.raises(ProfileError, match="no builtin profile 'atlantis'"):
        load_profile("atlantis")
    with pytest.raises(ProfileError, match="nowhere.toml: file not found"):
        load_profile(Path("/nonexistent/nowhere.toml"))


def test_from_dict_validates(bengkalis):
    d = bengkalis.to_dict()
    d["incident_types"][2]["agencies"].append("XYZ")
    with pytest.raises(ProfileError, match=r"incident_types\[2\]\.agencies: unknown agency 'XYZ'"):
        Profile.from_dict(d)
    d = bengkalis.to_dict()
    d["profile"]["extends"] = "bengkalis"
    with pytest.raises(ProfileError, match=r"profile\.extends: unknown field"):
        Profile.from_dict(d)
    d = bengkalis.to_dict()
    del d["agencies"]
    with pytest.raises(ProfileError, match="agencies: missing"):
        Profile.from_dict(d)


def test_channel_policy_defaults_and_validation(tmp_path):
    bengkalis = load_profile("bengkalis")
    assert bengkalis.channel_order == ("mqtt", "radio", "sms") and bengkalis.fallback_after_seconds == 120
    assert Profile.from_dict(bengkalis.to_dict()) == bengkalis
    child = tmp_path / "cepat.toml"
    child.write_text('[profile]\nid = "cepat"\nextends = "bengkalis"\nchannel_order = ["sms"]\n'
                     'fallback_after_seconds = 30\n')
    fast = load_profile(child)
    assert fast.channel_order == ("sms",) and fast.fallback_after_seconds == 30
    for bad in ('channel_order = ["pigeon"]', 'channel_order = ["sms", "sms"]', "fallback_after_seconds = 0"):
        child.write_text(f'[profile]\nid = "cepat"\nextends = "bengkalis"\n{bad}\n')
        with pytest.raises(ProfileError, match="channel_order|fallback_after_seconds"):
            load_profile(child)
