"""Routing profiles: which agencies to contact per incident type, and how fast each SOP step must be.

Why this exists: every regency or city runs 112 under its own rules. Bengkalis
(Perbup 48/2025) fixes the incident types, the matrix of agencies per type
(Lampiran I) and the time standards of the procedure (Lampiran II); Semarang and
Cilegon have their own SOP times. Keeping that as TOML data (edge/profiles/) with a
strict validator means a new regency is a new file, not a code change, and a typo
fails loudly when the profile is loaded instead of silently mis-routing a call.

A profile file may `extends = "<name>"` another one and list only what it changes:
entries are merged by their key (agency code, incident type code, SOP step key),
field by field. `Profile.to_dict()` is the fully resolved form that is stored and
synced; `Profile.from_dict()` validates it again. No Flask or peewee here, so the
edge app, central and tools can all use it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOP_STEP_KEYS: tuple[str, ...] = (
    "receive",  # step 1: ring -> answered
    "record",  # step 2: answered -> intake recorded
    "contact",  # step 3: recorded -> agencies contacted
    "confirm",  # step 5: dispatch sent -> agency confirms
    "hospital",  # step 8: coordinate with the hospital
    "hospital_report",  # steps 9-10: hospital reports on victims
    "coordinate",  # step 11: coordinate the incident status
    "close",  # step 12: handling finished -> case closed
)
AGENCY_KINDS: tuple[str, ...] = (
    "fire", "police", "health", "hospital", "disaster", "rescue",
    "military", "utility", "social", "government", "other",
)
BUILTIN_DIR: Path = Path(__file__).resolve().parent / "profiles"

_AGENCY_CODE = re.compile(r"[A-Z0-9_]+")
_PROFILE_FIELDS: dict[str, type] = {"id": str, "name": str, "source": str, "amber_ratio": float}
# Optional [profile] fields and their defaults: how a dispatch travels when the first
# channel does not get an answer (issue 4: MQTT when the peer is reachable, else radio, else SMS).
CHANNELS: tuple[str, ...] = ("mqtt", "radio", "sms")
DEFAULT_FALLBACK_SECONDS = 120
_OPTIONAL_PROFILE_FIELDS = ("channel_order", "fallback_after_seconds")
_SECTIONS: dict[str, dict[str, type]] = {
    "agencies": {"code": str, "name_id": str, "name_en": str, "kind": str},
    "incident_types": {"code": int, "name_id": str, "name_en": str, "priority": int, "agencies": list},
    "sop_steps": {"key": str, "step": int, "name_id": str, "name_en": str, "standard_seconds": int},
}
_KEY_FIELD = {"agencies": "code", "incident_types": "code", "sop_steps": "key"}


class ProfileError(Exception):
    """A routing profile file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name_id: str
    name_en: str
    kind: str


@dataclass(frozen=True)
class IncidentTypeSpec:
    code: int
    name_id: str
    name_en: str
    priority: int
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class SopStep:
    key: str
    step: int
    name_id: str
    name_en: str
    standard_seconds: int


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    source: str
    amber_ratio: float
    agencies: tuple[AgencySpec, ...]
    incident_types: tuple[IncidentTypeSpec, ...]
    sop_steps: tuple[SopStep, ...]
    channel_order: tuple[str, ...] = CHANNELS
    fallback_after_seconds: int = DEFAULT_FALLBACK_SECONDS

    def incident_type(self, code: int) -> IncidentTypeSpec:
        for spec in self.incident_types:
            if spec.code == code:
                return spec
        raise ProfileError(f"{self.id}: unknown incident type {code!r}")

    def suggested_agencies(self, code: int) -> tuple[str, ...]:
        """Agency codes to contact for an incident type (the matrix row, in its order)."""
        return self.incident_type(code).agencies

    def agency(self, code: str) -> AgencySpec:
        for spec in self.agencies:
            if spec.code == code:
                return spec
        raise ProfileError(f"{self.id}: unknown agency {code!r}")

    def sop_step(self, key: str) -> SopStep | None:
        """The time standard of a step, or None if this profile sets none for it."""
        if key not in SOP_STEP_KEYS:
            raise ProfileError(f"{self.id}: unknown step key {key!r}")
        return next((s for s in self.sop_steps if s.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """Fully resolved, JSON-serialisable form; same shape as a profile file without `extends`."""
        return {
            "profile": {"id": self.id, "name": self.name, "source": self.source,
                        "amber_ratio": self.amber_ratio, "channel_order": list(self.channel_order),
                        "fallback_after_seconds": self.fallback_after_seconds},
            "agencies": [vars(a).copy() for a in self.agencies],
            "incident_types": [{**vars(t), "agencies": list(t.agencies)} for t in self.incident_types],
            "sop_steps": [vars(s).copy() for s in self.sop_steps],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        """Validate a resolved profile (as from `to_dict` or a parsed file) and build it."""
        return _build(d, "<dict>")


def _check_value(section: str, field: str, value: Any, typ: type, where: str) -> None:
    if typ is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif typ is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif typ is list:
        ok = isinstance(value, list | tuple)
    else:
        ok = isinstance(value, typ)
    if not ok:
        raise ProfileError(f"{where}: expected {typ.__name__}, got {type(value).__name__} {value!r}")
    if typ is str and not value.strip():
        raise ProfileError(f"{where}: must not be empty")
    problem = None
    if (section, field) == ("profile", "amber_ratio") and not 0 < value < 1:
        problem = f"must be between 0 and 1 (exclusive), got {value!r}"
    elif (section, field) == ("agencies", "code") and not _AGENCY_CODE.fullmatch(value):
        problem = f"agency code must be upper-case ASCII letters, digits or _, got {value!r}"
    elif (section, field) == ("agencies", "kind") and value not in AGENCY_KINDS:
        problem = f"unknown kind {value!r} (one of {', '.join(AGENCY_KINDS)})"
    elif (section, field) == ("incident_types", "code") and not 1 <= value <= 99:
        problem = f"must be 1..99, got {value!r}"
    elif field == "priority" and value not in (1, 2, 3):
        problem = f"must be 1, 2 or 3, got {value!r}"
    elif (section, field) == ("incident_types", "agencies"):
        bad = [code for code in value if not isinstance(code, str)]
        if bad:
            problem = f"expected agency codes (str), got {bad[0]!r}"
        elif len(set(value)) != len(value):
            problem = "duplicate agency in the list"
    elif field == "key" and value not in SOP_STEP_KEYS:
        problem = f"unknown step key {value!r} (one of {', '.join(SOP_STEP_KEYS)})"
    elif field in ("step", "standard_seconds") and value <= 0:
        problem = f"must be positive, got {value!r}"
    if problem:
        raise ProfileError(f"{where}: {problem}")


def _check(d: Any, where: str, partial: bool) -> None:
    """Check shape, types and values. partial: a file that may extend another (fields may be missing)."""
    if not isinstance(d, dict):
        raise ProfileError(f"{where}: expected a table, got {type(d).__name__}")
    for key in d:
        if key != "profile" and key not in _SECTIONS:
            raise ProfileError(f"{where}: {key}: unknown top-level key")
    head = d.get("profile")
    if not isinstance(head, dict):
        raise ProfileError(f"{where}: profile: missing [profile] table")
    allowed = {**_PROFILE_FIELDS, "extends": str} if partial else _PROFILE_FIELDS
    for key in head:
        if key not in allowed and key not in _OPTIONAL_PROFILE_FIELDS:
            raise ProfileError(f"{where}: profile.{key}: unknown field")
    order = head.get("channel_order")
    if order is not None and (not isinstance(order, list) or not order or len(set(order)) != len(order)
                              or any(c not in CHANNELS for c in order)):
        raise ProfileError(f"{where}: profile.channel_order: a list of distinct channels from {', '.join(CHANNELS)}")
    fallback = head.get("fallback_after_seconds")
    if fallback is not None and (not isinstance(fallback, int) or isinstance(fallback, bool) or fallback <= 0):
        raise ProfileError(f"{where}: profile.fallback_after_seconds: must be a positive whole number of seconds")
    for field, typ in allowed.items():
        if field in head:
            _check_value("profile", field, head[field], typ, f"{where}: profile.{field}")
        elif field == "id" or not partial:
            raise ProfileError(f"{where}: profile.{field}: missing")
    for section, fields in _SECTIONS.items():
        if section not in d and partial:
            continue
        items = d.get(section)
        if not isinstance(items, list):
            what = "missing" if items is None else f"expected an array of tables, got {type(items).__name__}"
            raise ProfileError(f"{where}: {section}: {what}")
        key_field, seen = _KEY_FIELD[section], set()
        for i, item in enumerate(items):
            loc = f"{where}: {section}[{i}]"
            if not isinstance(item, dict):
                raise ProfileError(f"{loc}: expected a table, got {type(item).__name__}")
            for key in item:
                if key not in fields:
                    raise ProfileError(f"{loc}.{key}: unknown field")
            for field, typ in fields.items():
                if field in item:
                    _check_value(section, field, item[field], typ, f"{loc}.{field}")
                elif field == key_field or not partial:
                    raise ProfileError(f"{loc}.{field}: missing")
            if item[key_field] in seen:
                raise ProfileError(f"{loc}.{key_field}: duplicate {key_field} {item[key_field]!r}")
            seen.add(item[key_field])
    if not partial:
        known = {a["code"] for a in d["agencies"]}
        for i, item in enumerate(d["incident_types"]):
            for code in item["agencies"]:
                if code not in known:
                    raise ProfileError(f"{where}: incident_types[{i}].agencies: unknown agency {code!r}")


def _build(d: dict[str, Any], where: str) -> Profile:
    _check(d, where, partial=False)
    head = d["profile"]
    return Profile(
        id=head["id"],
        name=head["name"],
        source=head["source"],
        amber_ratio=float(head["amber_ratio"]),
        agencies=tuple(AgencySpec(**a) for a in d["agencies"]),
        incident_types=tuple(IncidentTypeSpec(**{**t, "agencies": tuple(t["agencies"])})
                             for t in d["incident_types"]),
        sop_steps=tuple(SopStep(**s) for s in d["sop_steps"]),
        channel_order=tuple(head.get("channel_order", CHANNELS)),
        fallback_after_seconds=head.get("fallback_after_seconds", DEFAULT_FALLBACK_SECONDS),
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"{path.name}: file not found ({path})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ProfileError(f"{path.name}: cannot read: {exc}") from None


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: [profile] field by field, array entries by key, field by field."""
    out: dict[str, Any] = {"profile": {**parent["profile"], **child["profile"]}}
    out["profile"].pop("extends", None)
    for section, key_field in _KEY_FIELD.items():
        merged = {e[key_field]: dict(e) for e in parent.get(section, [])}
        for entry in child.get(section, []):
            merged[entry[key_field]] = {**merged.get(entry[key_field], {}), **entry}
        out[section] = list(merged.values())
    return out


def _resolve(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Read a file and everything it extends, merged; `chain` holds the files that extend it."""
    if path in chain:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ProfileError(f"{chain[0].name}: profile.extends: cycle {names}")
    raw = _read(path)
    _check(raw, path.name, partial=True)
    parent_name = raw["profile"].get("extends")
    if parent_name is None:
        raw["profile"].pop("extends", None)
        return raw
    file_name = parent_name if parent_name.endswith(".toml") else f"{parent_name}.toml"
    for folder in (BUILTIN_DIR, path.parent):
        candidate = (folder / file_name).resolve()
        if candidate.is_file():
            return _merge(_resolve(candidate, (*chain, path)), raw)
    raise ProfileError(f"{path.name}: profile.extends: unknown profile {parent_name!r}")


def builtin_names() -> list[str]:
    """Names of the profiles shipped in edge/profiles, sorted."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a builtin profile by bare name ("bengkalis") or any profile file by path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(name_or_path).resolve()
    else:
        path = (BUILTIN_DIR / f"{text}.toml").resolve()
        if not path.is_file():
            have = ", ".join(builtin_names())
            raise ProfileError(f"{text}.toml: no builtin profile {text!r} (have: {have})")
    return _build(_resolve(path, ()), path.name)
