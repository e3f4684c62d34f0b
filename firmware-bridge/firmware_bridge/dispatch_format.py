"""The one compact dispatch text shared by SMS and radio, and the agency replies to it.

Why this exists: when MQTT is down a dispatch still has to reach an agency station, by
AX.25 radio or by SMS to a duty phone, and a person must be able to read it on a plain
phone. One format for both means one parser at the station, one size budget and one test
suite. It fits one SMS (160 GSM 7-bit characters; a single non-GSM character would turn the
SMS into UCS2 with room for 70) and one AX.25 frame (256 info bytes): every field is reduced
to printable ASCII that is also in the GSM 03.38 basic table, so characters, septets and
bytes are the same number. Docs: docs/radio-and-sms-format.md.

    112 #4821 P1 3:KEBAKARAN            code, priority, incident type code:short name
    posko-bengkalis-2025-00012          case number
    Bengkalis/Senggoro                  kecamatan/desa
    Jl. Pramuka 7 (Msj Al-Ikhlas)       address (landmark), shortened to fit
    1.46710,102.11020                   lat,lon (5 decimals) or -
    KORBAN 2 luka R4:ya K:7QX2MF        victims, condition, 4-wheel access, auth code

K is HMAC-SHA256 with the agency's shared secret over the carried fields, truncated to
six base32 characters (30 bits), so only a holder of the secret can make a valid dispatch.
Replies ("OK 4821", "TIBA 4821", "SELESAI 4821 2 korban ke RSUD") are parsed forgivingly;
they are tied to a dispatch by its random 4-digit code, the sender number (checked by the
caller) and optionally a 4-character K of their own (`verify_reply`). Pure functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets as _random
import unicodedata
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from edge.enums import DispatchStatus, VictimCondition

SMS_CHARS = 160
AUTH_LEN = 6
REPLY_AUTH_LEN = 4
MAX_TYPE_NAME = 20
MAX_CASE_NO = 32
MAX_VICTIMS = 9999
MAX_TEXT = 480  # longer input is refused before any parsing
ELLIPSIS = "..."
EMPTY = "-"

CONDITION_WORDS: dict[str, str] = {
    VictimCondition.NONE: "nihil", VictimCondition.INJURED: "luka", VictimCondition.SICK: "sakit",
    VictimCondition.DEAD: "meninggal", VictimCondition.MIXED: "campuran", VictimCondition.UNKNOWN: "?",
}  # fmt: skip
_WORD_CONDITIONS = {word: cond.value for cond, word in CONDITION_WORDS.items()}
_FOUR_WHEEL = {True: "ya", False: "tdk", None: "?"}
_WHEEL_WORDS = {word: value for value, word in _FOUR_WHEEL.items()}

# Printable ASCII that is also one septet of the GSM 03.38 basic table.
_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("[\\]^{|}~`")
_MAP = {
    "[": "(", "]": ")", "{": "(", "}": ")", "|": "/", "\\": "/", "~": "-", "^": "", "`": "'",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u20ac": "EUR", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE",
    "\u00f8": "o", "\u00d8": "O", "\u0111": "d", "\u0110": "D", "\u00b0": " ",
}  # fmt: skip
_ABBREVIATIONS = (
    ("jalan", "Jl."), ("gang", "Gg."), ("nomor", "No."), ("masjid", "Msj"), ("musholla", "Msl"),
    ("sekolah", "Sek."), ("kantor", "Ktr"), ("depan", "dpn"), ("dekat", "dkt"), ("belakang", "blkg"),
    ("samping", "smpg"), ("simpang", "Spg"), ("perumahan", "Perum"), ("pelabuhan", "Plb"),
    ("kilometer", "KM"),
)  # fmt: skip
_SHORT_TYPES = (
    ("ambulans", "AMBULANS"), ("perairan", "SAR AIR"), ("laut", "SAR AIR"), ("kebakaran", "KEBAKARAN"),
    ("lalu lintas", "LAKALANTAS"), ("kriminal", "KRIMINAL"), ("gas", "BOCOR GAS"), ("kimia", "BOCOR KIMIA"),
    ("pohon", "POHON TUMBANG"), ("hewan", "HEWAN BUAS"), ("hama", "HEWAN BUAS"), ("bencana", "BENCANA"),
    ("konstruksi", "KONSTRUKSI"), ("sosial", "MASALAH SOSIAL"), ("lainnya", "DARURAT LAIN"),
)  # fmt: skip

_L1 = re.compile(r"112 #(\d{4}) P(\d) (\d{1,2}):(\S.*)")
_L5 = re.compile(r"-|(-?\d{1,2}\.\d{5}),(-?\d{1,3}\.\d{5})")
_L6 = re.compile(rf"KORBAN (\d{{1,4}}) (\S+) R4:(\S+) K:([A-Z2-7]{{{AUTH_LEN}}})")


class DispatchFormatError(Exception):
    """Base of the errors this module raises for text it is given to parse."""


class Malformed(DispatchFormatError):
    """The text does not follow the dispatch grammar."""


class BadAuth(DispatchFormatError):
    """An authentication code is missing or does not match: forged, altered or the wrong key."""


class ReplyParseError(DispatchFormatError):
    """An agency reply that cannot be understood; the message says what is missing."""


class UnknownCode(DispatchFormatError):
    """A reply's dispatch code matches no open dispatch."""


@dataclass(frozen=True)
class DispatchMessage:
    """The fields of one dispatch as carried by the compact text."""

    code: str  # 4 digits, unique among the node's open dispatches
    case_no: str
    incident_type: int
    type_name: str  # short Indonesian name, e.g. "KEBAKARAN" (see short_type_name)
    priority: int
    kecamatan: str
    desa: str
    place: str  # address and/or landmark (see place_text)
    lat: float | None
    lon: float | None
    victims: int
    condition: str  # an edge.enums.VictimCondition value
    four_wheel: bool | None


# --- text helpers ----------------------------------------------------------------------


def gsm7_text(text: str) -> str:
    """One line of text that is safe everywhere: transliterated to GSM-7/ASCII, spaces collapsed."""
    out: list[str] = []
    for ch in str(text):
        if ch in _SAFE:
            out.append(ch)
        elif ch in _MAP:
            out.append(_MAP[ch])
        elif ch.isspace():
            out.append(" ")
        else:
            out.append("".join(c for c in unicodedata.normalize("NFKD", ch) if c in _SAFE))
    return " ".join("".join(out).split())


def short_type_name(name_id: str, max_len: int = MAX_TYPE_NAME) -> str:
    """A short upper-case label from a profile's Indonesian incident type name."""
    lower = gsm7_text(name_id).lower()
    for needle, label in _SHORT_TYPES:
        if re.search(rf"\b{needle}\b", lower):
            return label
    words = lower.upper().split()
    return (words[0] if words else "DARURAT")[:max_len]


def place_text(address: str, landmark: str = "") -> str:
    """"address (landmark)", or whichever of the two is given."""
    address, landmark = gsm7_text(address), gsm7_text(landmark)
    if address and landmark:
        return f"{address} ({landmark})"
    return address or landmark


def abbreviate(text: str) -> str:
    """Common Indonesian address words shortened (Jalan -> Jl., Masjid -> Msj ...)."""
    for word, short in _ABBREVIATIONS:
        text = re.sub(rf"\b{word}\b\.?", short, text, flags=re.IGNORECASE)
    return text


def new_code(in_use: Container[str] = ()) -> str:
    """A random 4-digit dispatch code (1000-9999, no leading zero to lose) not in `in_use`."""
    for _ in range(32):
        code = str(1000 + _random.randbelow(9000))
        if code not in in_use:
            return code
    free = [c for c in map(str, range(1000, 10_000)) if c not in in_use]
    if not free:
        raise RuntimeError("no free 4-digit dispatch code: too many open dispatches")
    return free[_random.randbelow(len(free))]


def message_for(incident: Any, code: str, type_name: str) -> DispatchMessage:
    """A DispatchMessage from an object with edge.models.Incident's field names."""
    return DispatchMessage(
        code, incident.case_no, incident.incident_type, type_name, incident.priority,
        incident.kecamatan, incident.desa, place_text(incident.address, incident.landmark),
        incident.latitude, incident.longitude, incident.victims_count, incident.victims_condition,
        incident.four_wheel_access,
    )  # fmt: skip


def _field(text: str) -> str:
    value = gsm7_text(text)
    return "" if value == EMPTY else value


def _truncate(value: str, room: int) -> str:
    """`value` cut to at most `room` characters, ending in ELLIPSIS; at a word end when one is near."""
    if len(value) <= room:
        return value
    if room <= len(ELLIPSIS):
        return ""
    head = value[: room - len(ELLIPSIS)]
    if value[len(head)] != " " and head.rfind(" ") >= len(head) - 6:
        head = head[: head.rfind(" ")]
    return head.rstrip(" ,;:-") + ELLIPSIS


# --- dispatch ---------------------------------------------------------------------------


def _carried(msg: DispatchMessage) -> DispatchMessage:
    """Validate `msg` (ValueError) and reduce it to the values the text can carry."""
    if not isinstance(msg.code, str) or not re.fullmatch(r"\d{4}", msg.code):
        raise ValueError(f"dispatch code must be 4 digits, got {msg.code!r}")
    for name, value, low, high in (("incident_type", msg.incident_type, 1, 99), ("priority", msg.priority, 1, 9),
                                   ("victims", msg.victims, 0, MAX_VICTIMS)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"{name} must be an integer {low}..{high}, got {value!r}")
    if msg.condition not in CONDITION_WORDS:
        raise ValueError(f"condition must be one of {', '.join(CONDITION_WORDS)}, got {msg.condition!r}")
    if msg.four_wheel is not None and not isinstance(msg.four_wheel, bool):
        raise ValueError(f"four_wheel must be True, False or None, got {msg.four_wheel!r}")
    type_name = _field(msg.type_name).upper()
    if not 0 < len(type_name) <= MAX_TYPE_NAME:
        raise ValueError(f"type_name must be 1-{MAX_TYPE_NAME} characters (see short_type_name): {msg.type_name!r}")
    case_no = _field(msg.case_no)
    if not 0 < len(case_no) <= MAX_CASE_NO:
        raise ValueError(f"case_no must be 1-{MAX_CASE_NO} characters, got {msg.case_no!r}")
    lat, lon = msg.lat, msg.lon
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither")
    if lat is not None and lon is not None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise ValueError(f"coordinates must be numbers: {lat!r},{lon!r}")
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"coordinates out of range: {lat!r},{lon!r}")
        lat, lon = float(f"{lat:.5f}"), float(f"{lon:.5f}")
    return replace(
        msg, type_name=type_name, case_no=case_no, kecamatan=_field(gsm7_text(msg.kecamatan).replace("/", "-")),
        desa=_field(msg.desa), place=_field(msg.place), lat=lat, lon=lon, condition=str(msg.condition),
    )  # fmt: skip


def _coords(msg: DispatchMessage) -> str:
    return EMPTY if msg.lat is None else f"{msg.lat:.5f},{msg.lon:.5f}"


def _canonical(msg: DispatchMessage) -> bytes:
    fields = (
        "SIAGA112-D1", msg.code, msg.case_no, str(msg.incident_type), msg.type_name, str(msg.priority),
        msg.kecamatan, msg.desa, msg.place, _coords(msg), str(msg.victims), msg.condition,
        _FOUR_WHEEL[msg.four_wheel],
    )  # fmt: skip
    return "\n".join(fields).encode("ascii")


def _mac(secret: bytes, data: bytes, length: int) -> str:
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("secret must be non-empty bytes")
    digest = hmac.new(bytes(secret), data, hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii")[:length]


def _text(msg: DispatchMessage, auth: str) -> str:
    return "\n".join((
        f"112 #{msg.code} P{msg.priority} {msg.incident_type}:{msg.type_name}",
        msg.case_no,
        f"{msg.kecamatan or EMPTY}/{msg.desa or EMPTY}",
        msg.place or EMPTY,
        _coords(msg),
        f"KORBAN {msg.victims} {CONDITION_WORDS[msg.condition]} R4:{_FOUR_WHEEL[msg.four_wheel]} K:{auth}",
    ))  # fmt: skip


def _fit(msg: DispatchMessage, max_chars: int) -> DispatchMessage:
    """Shorten place (abbreviated, then cut), then desa, then kecamatan until the text fits."""

    def excess(m: DispatchMessage) -> int:
        return len(_text(m, "X" * AUTH_LEN)) - max_chars

    if excess(msg) <= 0:
        return msg
    msg = replace(msg, place=abbreviate(msg.place))
    for name in ("place", "desa", "kecamatan"):
        over = excess(msg)
        if over <= 0:
            return msg
        value: str = getattr(msg, name)
        cut = _truncate(value, len(value) - over)
        if name == "place" and (m := re.fullmatch(r"(.+) (\(.+\))", value)):  # keep the landmark
            address = _truncate(m.group(1), len(m.group(1)) - over)
            cut = f"{address} {m.group(2)}" if len(address) >= 16 else cut
        msg = replace(msg, **{name: cut})
    if excess(msg) > 0:
        raise ValueError(f"dispatch cannot fit in {max_chars} characters even with place, desa and kecamatan cut")
    return msg


def render(msg: DispatchMessage, secret: bytes, max_chars: int = SMS_CHARS) -> str:
    """The dispatch text: GSM-7/ASCII only, at most `max_chars` characters (= septets = bytes).

    Place is abbreviated then cut first, then desa, then kecamatan; code, type, priority and
    the auth code never are. ValueError for invalid fields or an impossible `max_chars`.
    """
    carried = _fit(_carried(msg), max_chars)
    return _text(carried, _mac(secret, _canonical(carried), AUTH_LEN))


def auth_of(text: str) -> str:
    """The K: code of a dispatch text, without verifying it (to bind replies to it); Malformed if none."""
    return _parse_unverified(text)[1]


def _parse_unverified(text: str | bytes) -> tuple[DispatchMessage, str]:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise Malformed("not ASCII text") from None
    if not isinstance(text, str):
        raise Malformed(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise Malformed(f"{len(text)} characters, over {MAX_TEXT}")
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")]
    if len(lines) != 6:
        raise Malformed(f"expected 6 lines, got {len(lines)}")
    m1, m5, m6 = _L1.fullmatch(lines[0]), _L5.fullmatch(lines[4]), _L6.fullmatch(lines[5])
    if not m1:
        raise Malformed("first line is not '112 #<code> P<priority> <type>:<NAME>'")
    if not lines[1] or "/" not in lines[2]:
        raise Malformed("missing case number or 'kecamatan/desa' line")
    if not m5:
        raise Malformed("coordinates line is not '<lat>,<lon>' with 5 decimals or '-'")
    if not m6:
        raise Malformed("last line is not 'KORBAN <n> <kondisi> R4:<ya|tdk|?> K:<auth>'")
    condition, wheels = _WORD_CONDITIONS.get(m6.group(2)), m6.group(3)
    if condition is None or wheels not in _WHEEL_WORDS:
        raise Malformed(f"unknown victim condition or R4 value: {m6.group(2)!r} {wheels!r}")
    kec, desa = lines[2].split("/", 1)
    lat = lon = None
    if m5.group(1):
        lat, lon = float(m5.group(1)), float(m5.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise Malformed(f"coordinates out of range: {lines[4]}")
    msg = DispatchMessage(
        m1.group(1), lines[1], int(m1.group(3)), m1.group(4), int(m1.group(2)),
        "" if kec == EMPTY else kec, "" if desa == EMPTY else desa, "" if lines[3] == EMPTY else lines[3],
        lat, lon, int(m6.group(1)), condition, _WHEEL_WORDS[wheels],
    )  # fmt: skip
    return msg, m6.group(4)


SecretSource = Mapping[str, bytes] | Callable[[DispatchMessage], bytes | None]


def parse(text: str | bytes, secrets: SecretSource) -> DispatchMessage:
    """Parse and verify a dispatch text: Malformed, or BadAuth unless one secret matches its K.

    `secrets` is a mapping name -> secret (all are tried, e.g. during key rotation), or a
    callable given the not yet verified message (e.g. to pick the secret by the posko in
    its case number) returning the secret or None.
    """
    msg, auth = _parse_unverified(text)
    try:
        canonical = _canonical(msg)
    except UnicodeEncodeError:  # render() only writes ASCII, so no such text can carry a valid K: code
        raise Malformed(f"dispatch #{msg.code}: characters outside ASCII") from None
    if callable(secrets):
        secret = secrets(msg)
        candidates = [secret] if secret else []
    else:
        candidates = list(secrets.values())
    if not any(hmac.compare_digest(_mac(s, canonical, AUTH_LEN), auth) for s in candidates):
        raise BadAuth(f"dispatch #{msg.code}: auth code {auth} does not match")
    return msg


# --- replies ----------------------------------------------------------------------------


class ReplyAction(StrEnum):
    """What an agency reports; each but HOSPITAL moves its dispatch to that status."""

    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    FINISHED = "finished"
    HOSPITAL = "hospital"  # victims taken to a hospital (hospital info, no status change)

    @property
    def status(self) -> DispatchStatus | None:
        return None if self is ReplyAction.HOSPITAL else DispatchStatus(self.value)


ACTION_WORDS: dict[ReplyAction, tuple[str, ...]] = {
    ReplyAction.ACKNOWLEDGED: ("OK", "OKE", "OKAY", "TERIMA", "DITERIMA", "SIAP", "ROGER"),
    ReplyAction.EN_ROUTE: ("JALAN", "BERANGKAT", "OTW", "MELUNCUR", "MENUJU"),
    ReplyAction.ON_SCENE: ("TIBA", "SAMPAI", "DILOKASI", "DI LOKASI"),
    ReplyAction.FINISHED: ("SELESAI", "BERES", "TUNTAS", "CLEAR"),
    ReplyAction.HOSPITAL: ("RUJUK", "DIRUJUK", "RS"),
}
_WORD_ACTIONS = {word: action for action, words in ACTION_WORDS.items() for word in words}
_VICTIM_WORDS = {"KORBAN", "ORANG", "ORG", "PASIEN", "JIWA"}
_CREW_WORDS = {"CREW", "KRU", "PERSONEL", "PERSONIL", "ANGGOTA", "PETUGAS", "REGU"}
_HOSPITAL_START = {"RS", "RSUD", "RSU", "RSIA", "PUSKESMAS", "KLINIK", "RUMAH"}
_HOSPITAL_ACTIONS = (ReplyAction.FINISHED, ReplyAction.HOSPITAL)  # where "ke <name>" names a hospital
_AUTH = re.compile(rf"(?<![A-Za-z0-9])K\s*[:=]\s*([A-Za-z2-7]{{{REPLY_AUTH_LEN}}})(?![A-Za-z0-9])", re.I)


@dataclass(frozen=True)
class Reply:
    """An agency's reply as understood."""

    action: ReplyAction
    code: str
    victims: int | None
    hospital: str | None
    crew: int | None
    note: str
    auth: str | None


def _action_at(tokens: list[str], i: int) -> tuple[ReplyAction, int] | None:
    """(action, number of tokens it spans) if an action word starts at tokens[i]."""
    if 0 <= i < len(tokens) - 1 and (action := _WORD_ACTIONS.get(f"{tokens[i]} {tokens[i + 1]}")):
        return action, 2
    action = _WORD_ACTIONS.get(tokens[i]) if 0 <= i < len(tokens) else None
    return (action, 1) if action else None


def _count(tokens: list[str], used: set[int], words: set[str]) -> int | None:
    """A number written next to one of `words` ("2 korban", "korban 2"); marks both used."""
    for i, tok in enumerate(tokens):
        if i not in used and tok.isdigit() and len(tok) < 5:
            for j in (i + 1, i - 1):
                if 0 <= j < len(tokens) and j not in used and tokens[j] in words:
                    used.update((i, j))
                    return int(tok)
    return None


def _hospital(tokens: list[str], used: set[int], action: ReplyAction) -> str | None:
    """"RSUD BENGKALIS" from "... ke RSUD Bengkalis" or "... rsud bengkalis"; marks the words used."""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) and i + 1 not in used else ""
        via_ke = tok == "KE" and nxt.isalpha() and (nxt in _HOSPITAL_START or action in _HOSPITAL_ACTIONS)
        if i in used or not (tok in _HOSPITAL_START or via_ke):
            continue
        j = i + 1 if via_ke else i
        used.add(i)
        name: list[str] = []
        while j < len(tokens) and (j == i or j not in used) and not tokens[j].isdigit():
            name.append(tokens[j])
            used.add(j)
            j += 1
        return " ".join(name)
    return None


def parse_reply(text: str) -> Reply:
    """Understand a short agency reply: an action word and the 4-digit dispatch code, in either order.

    Accepts "OK 4821", "ok4821", "4821 ok", "Terima #4821", "SELESAI 4821 2 korban ke RSUD" and
    the like; case, spaces and punctuation do not matter. ReplyParseError otherwise. The action
    word is the one nearest before the code, or else the one right after it.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReplyParseError("empty reply; expected e.g. 'OK 4821'")
    if len(text) > MAX_TEXT:
        raise ReplyParseError(f"reply of {len(text)} characters is too long (at most {MAX_TEXT})")
    auth = None
    if found := _AUTH.search(text):
        auth, text = found.group(1).upper(), text[: found.start()] + " " + text[found.end() :]
    words = re.findall(r"[A-Za-z]+|\d+", gsm7_text(text))
    tokens = [w.upper() for w in words]
    code_at = next((i for i, t in enumerate(tokens) if len(t) == 4 and t.isdigit()), None)
    if code_at is None:
        raise ReplyParseError(f"no 4-digit dispatch code in {text.strip()[:40]!r}; expected e.g. 'OK 4821'")
    candidates = [(i, _action_at(tokens, i)) for i in (*range(code_at - 1, -1, -1), code_at + 1)]
    at, hit = next(((i, h) for i, h in candidates if h and (i > code_at or i + h[1] <= code_at)), (0, None))
    if hit is None:
        known = ", ".join(w[0] for w in ACTION_WORDS.values())
        raise ReplyParseError(f"no action word next to code {tokens[code_at]} (one of {known})")
    action, span = hit
    used = {code_at, *range(at, at + span)}
    victims, crew = _count(tokens, used, _VICTIM_WORDS), _count(tokens, used, _CREW_WORDS)
    hospital = _hospital(tokens, used, action)
    note = " ".join(w for i, w in enumerate(words) if i not in used)
    return Reply(action, tokens[code_at], victims, hospital or None, crew, note, auth)


def _reply_canonical(reply_code: str, action: ReplyAction, victims: int | None, hospital: str | None,
                     crew: int | None, dispatch_auth: str) -> bytes:
    hosp = " ".join(re.findall(r"[A-Z]+", gsm7_text(hospital or "").upper()))
    fields = ("SIAGA112-R1", dispatch_auth, reply_code, ReplyAction(action).value,
              "" if victims is None else str(victims), "" if crew is None else str(crew), hosp)
    return "\n".join(fields).encode("ascii")


def reply_auth(secret: bytes, code: str, action: ReplyAction, victims: int | None = None,
               hospital: str | None = None, crew: int | None = None, dispatch_auth: str = "") -> str:
    """The K: code of a reply: HMAC over the dispatch's K, code, action and details, 4 base32 chars."""
    return _mac(secret, _reply_canonical(code, action, victims, hospital, crew, dispatch_auth), REPLY_AUTH_LEN)


def render_reply(code: str, action: ReplyAction, *, victims: int | None = None, hospital: str | None = None,
                 crew: int | None = None, secret: bytes | None = None, dispatch_auth: str = "") -> str:
    """A reply in the canonical spelling, e.g. "SELESAI 4821 2 korban ke RSUD BENGKALIS K:AB3D".

    ValueError unless `parse_reply` reads the same values back (a bad code, a count over 9999,
    a hospital name that neither starts with RS/RSUD/PUSKESMAS/... nor follows a finished or
    hospital action).
    """
    action = ReplyAction(action)
    if not re.fullmatch(r"\d{4}", str(code)):
        raise ValueError(f"dispatch code must be 4 digits, got {code!r}")
    parts = [ACTION_WORDS[action][0], str(code)]
    if victims is not None:
        parts.append(f"{int(victims)} korban")
    if crew is not None:
        parts.append(f"{int(crew)} personel")
    if hospital:
        parts.append(f"ke {' '.join(re.findall(r'[A-Z]+', gsm7_text(hospital).upper()))}")
    if secret is not None:
        parts.append(f"K:{reply_auth(secret, str(code), action, victims, hospital, crew, dispatch_auth)}")
    text = " ".join(parts)
    back = parse_reply(text)
    hosp = " ".join(re.findall(r"[A-Z]+", gsm7_text(hospital or "").upper())) or None
    if (back.action, back.code, back.victims, back.crew, back.hospital) != (action, code, victims, crew, hosp):
        raise ValueError(f"reply would not read back as given: {text!r}")
    return text


def verify_reply(reply: Reply, secret: bytes, *, dispatch_auth: str = "", open_codes: Container[str] | None = None,
                 require_auth: bool = False) -> None:
    """Check a parsed reply; UnknownCode or BadAuth, else it is accepted.

    The caller also checks, for SMS, that the sender number is the agency's registered one.
    `dispatch_auth` is the K: of the dispatch being answered (see `auth_of`), so an old reply's
    K cannot be replayed against a later dispatch that happens to draw the same code.
    """
    if open_codes is not None and reply.code not in open_codes:
        raise UnknownCode(f"no open dispatch has code {reply.code}")
    if reply.auth is None:
        if require_auth:
            raise BadAuth(f"reply to {reply.code} carries no K: code")
        return
    expected = reply_auth(secret, reply.code, reply.action, reply.victims, reply.hospital, reply.crew, dispatch_auth)
    if not hmac.compare_digest(expected, reply.auth):
        raise BadAuth(f"reply to {reply.code}: K:{reply.auth} does not match")
