"""A year of Bengkalis-like synthetic records for central: to test and time the regency reports.

Why this exists: the reports must be checked on a realistic volume (issue 5: at least
100,000 calls a year, about 85% of them not actionable, as in the Bengkalis trial of
July-October 2025: 6,870 calls, 1,026 verified) and timed on it (bench/report.py), long
before a year of real data exists. The generator writes rows of the same shape the
services write (edge/services/calls.py, incidents.py, dispatches.py), as central holds
them after sync: each row's `node` is the posko that recorded it, dispatch ids are the
same stable ids, every dispatch status has its timestamp (a skipped "received" implied by
the next status, a skipped crew check left empty), and the SOP steps take times drawn
around the profile's standards so some cases are late. Cases whose next step falls after
the end of the data are still open there, as they would be.

Everything is drawn from one `random.Random(seed)`: the same seed gives the same rows,
ids included. Rows go in with multi-row parameterised INSERTs inside one
transaction, with sync's change-capture triggers set aside meanwhile (rows as sync applies
them, not changes of central's own), so 100,000 calls take seconds. `events=True` also
writes each posko's hash-chained timeline (slower; `siaga112 audit verify` passes on it);
the reports do not read events.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import time as clock
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from edge.enums import CallSource, CallType, Channel, DispatchStatus, IncidentStatus
from edge.ids import stable_id
from edge.models import Agency, Call, Dispatch, Event, Incident, db_proxy
from edge.profile import Profile
from edge.services.audit import GENESIS, event_hash
from edge.services.profiles import active_profile
from edge.timeutil import WIB

# --- the regency ---------------------------------------------------------------------


@dataclass(frozen=True)
class Kecamatan:
    name: str
    lat: float
    lon: float
    desa: tuple[str, ...]


KECAMATAN: dict[str, Kecamatan] = {k.name: k for k in (
    Kecamatan("Bengkalis", 1.467, 102.110, ("Senggoro", "Kelapapati", "Air Putih", "Rimba Sekampung", "Damon")),
    Kecamatan("Bantan", 1.470, 102.300, ("Selatbaru", "Bantan Air", "Teluk Pambang", "Muntai")),
    Kecamatan("Bukit Batu", 1.350, 102.150, ("Sungai Pakning", "Dompas", "Pakning Asal")),
    Kecamatan("Siak Kecil", 1.300, 102.050, ("Lubuk Muda", "Sungai Siput")),
    Kecamatan("Bandar Laksamana", 1.420, 101.900, ("Tanjung Leban", "Bukit Kerikil")),
    Kecamatan("Mandau", 1.270, 101.220, ("Air Jamban", "Talang Mandi", "Gajah Sakti", "Pematang Pudu", "Babussalam")),
    Kecamatan("Pinggir", 1.100, 101.300, ("Pinggir", "Titian Antui", "Muara Basung")),
    Kecamatan("Bathin Solapan", 1.200, 101.350, ("Sebanga", "Balai Makam", "Pematang Obo")),
    Kecamatan("Talang Muandau", 1.050, 101.150, ("Koto Pait Beringin", "Tasik Serai")),
    Kecamatan("Rupat", 1.800, 101.570, ("Batu Panjang", "Tanjung Kapal", "Pergam")),
    Kecamatan("Rupat Utara", 2.050, 101.650, ("Tanjung Medang", "Teluk Rhu")),
)}


@dataclass(frozen=True)
class PoskoSpec:
    node: str
    weight: float  # share of the regency's calls
    kecamatan: tuple[tuple[str, float], ...]  # where its cases are, with weights
    answer_median: float  # seconds from ring to answer (an island posko has fewer operators)
    travel_median: float  # seconds from en route to on scene


POSKOS: tuple[PoskoSpec, ...] = (
    PoskoSpec("posko-bengkalis", 0.40, (("Bengkalis", 6), ("Bantan", 3)), 8, 600),
    PoskoSpec("posko-duri", 0.36, (("Mandau", 6), ("Pinggir", 2), ("Bathin Solapan", 2), ("Talang Muandau", 1)),
              9, 720),
    PoskoSpec("posko-sungaipakning", 0.15, (("Bukit Batu", 4), ("Siak Kecil", 2), ("Bandar Laksamana", 1)), 10, 900),
    PoskoSpec("posko-rupat", 0.09, (("Rupat", 3), ("Rupat Utara", 2)), 16, 1200),
)

# Call types: about 85% not actionable (information, ghost, prank), as in the trial; a few
# calls are left unclassified (dropped before the call-taker pressed a key).
TYPE_WEIGHTS: tuple[tuple[str | None, float], ...] = (
    (CallType.NORMAL.value, 0.149), (CallType.INFORMATION.value, 0.20), (CallType.GHOST.value, 0.35),
    (CallType.PRANK.value, 0.30), (None, 0.001),
)
# Calls per hour of day (WIB): quiet at night, busy mornings and evenings; pranks peak after school.
_BASE_HOURS = (2, 1.5, 1, 1, 1.2, 2, 3.5, 5, 6, 6.5, 6.5, 6, 5.5, 5.5, 5.5, 5.5, 5, 5.5, 6, 6.5, 6, 5, 4, 3)
_PRANK_HOURS = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 2, 3, 3, 3.5, 4, 5, 7, 8.5, 8.5, 8, 7, 6.5, 7, 6.5, 5, 3, 2)
# Seasons: dry months bring forest and land fires, the north-east monsoon floods and storms.
_MONTH_VOLUME = (1.05, 1.1, 1.1, 0.95, 0.9, 0.95, 1.0, 1.1, 1.1, 0.95, 1.0, 1.05)
_TYPE_WEIGHTS_INCIDENT = {1: 30, 2: 3, 3: 12, 4: 18, 5: 8, 6: 1, 7: 6, 8: 4, 9: 5, 10: 2, 11: 6, 12: 5}
_DRY = {2, 3, 7, 8, 9}
_WET = {11, 12, 1}
_HOSPITAL = {"RSUD_BENGKALIS": "RSUD Bengkalis", "RSUD_MANDAU": "RSUD Mandau"}
_CHANNELS = ((Channel.MQTT.value, 55), (Channel.PHONE.value, 20), (Channel.RADIO.value, 15), (Channel.SMS.value, 10))
_PREFIXES = ("0811", "0812", "0813", "0821", "0822", "0823", "0852", "0853", "0857", "0878", "0895")
_NAMES = ("Ahmad", "Siti", "Rahmat", "Nurhayati", "Syafri", "Zulkifli", "Rina", "Budi", "Dewi", "Hendra", "Yusuf",
          "Aminah", "Irwan", "Fitri", "Jamal", "Rosmawati", "Azmi", "Wati", "Safrizal", "Lestari", "Hamdan", "Yanti")
_SITUATION = {
    1: "Warga sesak napas, minta ambulans", 2: "Perahu terbalik, penumpang di air", 3: "Api membakar rumah/lahan",
    4: "Tabrakan sepeda motor", 5: "Perkelahian, ada korban luka", 6: "Bau gas menyengat",
    7: "Pohon tumbang menutup jalan", 8: "Ular masuk rumah warga", 9: "Air pasang masuk rumah warga",
    10: "Bangunan roboh", 11: "Orang dengan gangguan jiwa mengamuk", 12: "Warga terjebak, minta bantuan",
}


@dataclass
class SyntheticResult:
    calls: int = 0
    incidents: int = 0
    dispatches: int = 0
    events: int = 0
    open_incidents: int = 0
    start_utc: datetime | None = None
    end_utc: datetime | None = None
    seconds: float = 0.0
    poskos: tuple[str, ...] = ()
    prank_numbers: tuple[str, ...] = ()


# --- drawing --------------------------------------------------------------------------


def _uuid7(rng: random.Random, at: datetime) -> str:
    """A UUIDv7 for a record created at `at`, its random bits from `rng` (deterministic)."""
    ms = int(at.replace(tzinfo=UTC).timestamp() * 1000) & ((1 << 48) - 1)
    h = f"{ms << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"  # str(uuid.UUID(int=...)), 3x faster


def _lognormal(rng: random.Random, median: float, sigma: float) -> timedelta:
    return timedelta(seconds=rng.lognormvariate(math.log(median), sigma))


def _number(rng: random.Random) -> str:
    return rng.choice(_PREFIXES) + str(rng.randrange(10_000_000, 99_999_999))


@dataclass
class _Case:
    """One incident being drawn, with its dispatches (dicts ready for insert_many)."""

    row: dict[str, Any]
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[datetime, str, str, dict]] = field(default_factory=list)  # (at, actor, kind, detail)


class _Generator:
    def __init__(self, rng: random.Random, profile: Profile, end: datetime, poskos: Sequence[PoskoSpec],
                 with_events: bool) -> None:
        self.rng = rng
        self.profile = profile
        self.end = end  # nothing after this instant has happened yet
        self.poskos = poskos
        self.with_events = with_events
        self.agency_ids = {a.code: a.id for a in Agency.select(Agency.code, Agency.id)}
        self.case_counter: dict[tuple[str, int], int] = defaultdict(int)
        self.dispatch_codes = 0
        self.calls: list[dict[str, Any]] = []
        self.cases: list[_Case] = []
        self.call_events: list[tuple[str, datetime, str, str, dict, str | None]] = []
        # Repeat pranksters: some fifteen hundred numbers, a handful of them very persistent (Zipf-like).
        self.pranksters = [_number(rng) for _ in range(1500)]
        self.prank_weights = list(_cumulative(1 / (i + 1) ** 0.9 for i in range(len(self.pranksters))))
        self.callers = [_number(rng) for _ in range(30_000)]

    def _cut(self, at: datetime | None) -> datetime | None:
        return at if at is not None and at <= self.end else None

    # calls ------------------------------------------------------------------------------

    def call(self, posko: PoskoSpec, call_type: str | None, rung: datetime, recent: list[_Case]) -> None:
        rng = self.rng
        answered = rung + _lognormal(rng, posko.answer_median, 1.2)
        operator = f"op-{posko.node.removeprefix('posko-')}-{rng.randint(1, 6)}"
        if call_type == CallType.PRANK.value:
            number = _pick(rng, self.pranksters, self.prank_weights) if rng.random() < 0.6 else _number(rng)
        elif call_type == CallType.GHOST.value:
            number = "" if rng.random() < 0.4 else _number(rng)  # a phone without SIM card has no caller ID
        else:
            number = rng.choice(self.callers)
        row = {"id": _uuid7(rng, rung), "node": posko.node, "created_at": rung, "caller_number": number,
               "rung_at": rung, "answered_at": None, "ended_at": None, "call_type": None, "call_taker": "",
               "source": CallSource.GSM.value if number else CallSource.MANUAL.value, "notes": "", "incident": None}
        self.calls.append(row)
        if self._cut(answered) is None:
            row["updated_at"] = rung
            return  # still ringing when the data ends
        row.update(answered_at=answered, call_taker=operator, updated_at=answered)
        self._call_event(posko.node, answered, operator, "call.answered", {"call": row["id"], "source": row["source"]})
        if call_type is None:
            return
        if call_type != CallType.NORMAL.value:
            ended = self._cut(answered + _lognormal(rng, 40, 0.6))
            if ended is not None:
                row.update(call_type=call_type, ended_at=ended, updated_at=ended)
                self._call_event(posko.node, ended, operator, "call.classified",
                                 {"call": row["id"], "call_type": call_type})
            return
        # A further call about a case opened in the last hour nearby is linked to it.
        live = [c for c in recent if answered - c.row["recorded_at"] < timedelta(hours=1)]
        if live and rng.random() < 0.18:
            case = rng.choice(live)
            row.update(call_type=call_type, incident=case.row["id"], ended_at=answered + timedelta(seconds=40),
                       updated_at=answered + timedelta(seconds=40))
            case.events.append((answered + timedelta(seconds=40), operator, "call.linked",
                                {"call": row["id"], "caller_number": number}))
            return
        case = self.incident(posko, row, operator, answered)
        if case is not None:
            recent.append(case)

    def _call_event(self, node: str, at: datetime, actor: str, kind: str, detail: dict) -> None:
        if self.with_events:
            self.call_events.append((node, at, actor, kind, detail, None))

    # incidents --------------------------------------------------------------------------

    def incident(self, posko: PoskoSpec, call: dict[str, Any], operator: str, answered: datetime) -> _Case | None:
        rng = self.rng
        recorded = self._cut(answered + _lognormal(rng, 110, 0.4))
        if recorded is None:
            return None  # intake still being typed when the data ends
        month = recorded.month
        weights = {code: w * (3 if code == 3 and month in _DRY else 2.5 if code == 9 and month in _WET else 1)
                   for code, w in _TYPE_WEIGHTS_INCIDENT.items()}
        itype = rng.choices(list(weights), weights=list(weights.values()))[0]
        spec = self.profile.incident_type(itype)
        names, kweights = zip(*posko.kecamatan, strict=True)
        kec = KECAMATAN[rng.choices(names, weights=kweights)[0]]
        year = recorded.replace(tzinfo=UTC).astimezone(WIB).year
        self.case_counter[(posko.node, year)] += 1
        victims = rng.choice((0, 1, 1, 1, 2, 3)) if itype in (1, 2, 4, 5) else rng.choice((0, 0, 0, 1))
        incident_id = _uuid7(rng, recorded)
        row = {
            "id": incident_id, "node": posko.node, "created_at": recorded,
            "case_no": f"{posko.node}-{year}-{self.case_counter[(posko.node, year)]:05d}",
            "reporter_name": rng.choice(_NAMES), "reporter_number": call["caller_number"], "incident_type": itype,
            "address": f"RT {rng.randint(1, 12):02d} RW {rng.randint(1, 6):02d}", "kecamatan": kec.name,
            "desa": rng.choice(kec.desa), "landmark": "", "latitude": round(kec.lat + rng.uniform(-0.05, 0.05), 5),
            "longitude": round(kec.lon + rng.uniform(-0.05, 0.05), 5), "victims_count": victims,
            "victims_condition": "none" if not victims else rng.choice(("injured", "injured", "sick", "dead")),
            "four_wheel_access": rng.random() < 0.8, "initial_handling": "", "situation": _SITUATION[itype],
            "priority": spec.priority, "status": IncidentStatus.RECORDED.value, "profile_id": self.profile.id,
            "recorded_at": recorded, "recorded_by": operator, "closed_at": None, "closed_by": "", "final_report": "",
        }
        call.update(call_type=CallType.NORMAL.value, incident=incident_id, ended_at=recorded, updated_at=recorded)
        case = _Case(row)
        case.events.append((recorded, operator, "incident.created",
                            {"case_no": row["case_no"], "incident_type": itype, "priority": spec.priority}))
        case.events.append((recorded, operator, "call.attached",
                            {"call": call["id"], "caller_number": call["caller_number"]}))
        self._dispatch(posko, case, spec.agencies, operator)
        self._close(case, operator)
        self.cases.append(case)
        return case

    def _dispatch(self, posko: PoskoSpec, case: _Case, matrix: Sequence[str], operator: str) -> None:
        rng = self.rng
        inc = case.row
        if rng.random() < 0.03:
            return  # handled by advice on the phone: no agency sent
        # The matrix row in its order; the call-taker sends the first few that fit the case.
        count = min(len(matrix), rng.choice((1, 2, 2, 3, 3, 4)))
        chosen = list(matrix[:count])
        if posko.node == "posko-duri":
            chosen = ["RSUD_MANDAU" if c == "RSUD_BENGKALIS" else c for c in chosen]
        sent = inc["recorded_at"] + _lognormal(rng, 45, 0.7)
        for code in dict.fromkeys(chosen):
            at = self._cut(sent + timedelta(seconds=rng.uniform(0, 5)))
            if at is None:
                continue
            channel = rng.choices([c for c, _w in _CHANNELS], weights=[w for _c, w in _CHANNELS])[0]
            d = {"id": stable_id("dispatch", f"{inc['id']}/{code}"), "node": posko.node, "created_at": at,
                 "incident": inc["id"], "agency": self.agency_ids[code], "channel": channel, "sent_at": at,
                 "crew_count": None, "equipment": "", "hospital": "", "hospital_at": None,
                 "victims_to_hospital": None, "report": "", "sent_by": operator,
                 "code": str(1000 + (self.dispatch_codes * 7919) % 9000)}
            self.dispatch_codes += 1
            received = at + timedelta(seconds=rng.uniform(1, 10 if channel == "mqtt" else 60))
            ack = received + _lognormal(rng, 90, 0.6)
            stuck = rng.random() < 0.015  # this agency never answers
            prepared = None if rng.random() < 0.3 else ack + _lognormal(rng, 120, 0.5)
            en_route = (prepared or ack) + _lognormal(rng, 90, 0.5)
            on_scene = en_route + _lognormal(rng, posko.travel_median, 0.5)
            finished = on_scene + _lognormal(rng, 3000, 0.6)
            times = {"received_at": received if channel not in ("phone",) else None, "acknowledged_at": ack,
                     "prepared_at": prepared, "en_route_at": en_route, "on_scene_at": on_scene,
                     "finished_at": finished}
            if stuck:
                times = dict.fromkeys(times)
            times = {k: self._cut(v) for k, v in times.items()}
            reached = [(s, f) for s, f in _STAMPS if times[f]]
            if channel == "phone" and reached:  # a later status implies "received" (update_status)
                times["received_at"] = times[reached[0][1]]
            d.update(times)
            d["status"] = reached[-1][0].value if reached else DispatchStatus.SENT.value
            if d["prepared_at"]:
                d.update(crew_count=rng.randint(2, 8), equipment="Kendaraan operasional")
            if d["finished_at"]:
                d["report"] = "Penanganan selesai"
            d["updated_at"] = max(t for t in (at, *times.values()) if t)
            case.dispatches.append(d)
            case.events.append((at, operator, "dispatch.sent", {"dispatch": d["id"], "agency": code,
                                                                 "channel": channel}))
            actor = code.lower()
            for status, stamp in reached:
                case.events.append((times[stamp], actor, f"dispatch.{status.value}",
                                    {"dispatch": d["id"], "agency": code, "status": status.value,
                                     "channel": channel}))
        self._hospital(case)

    def _hospital(self, case: _Case) -> None:
        """Victims taken to hospital by a health agency: step 8 runs from the first arrival."""
        on_scene = [d["on_scene_at"] for d in case.dispatches if d["on_scene_at"]]
        if not case.row["victims_count"] or not on_scene:
            return
        codes = {v: k for k, v in self.agency_ids.items()}
        health = [d for d in case.dispatches if codes[d["agency"]] in ("DINKES", "RSUD_BENGKALIS", "RSUD_MANDAU",
                                                                        "PUSKESMAS") and d["on_scene_at"]]
        if not health:
            return
        d = health[0]
        at = self._cut(min(on_scene) + _lognormal(self.rng, 100, 0.5))
        if at is None:
            return
        name = _HOSPITAL.get(codes[d["agency"]], "RSUD Bengkalis")
        count = max(1, case.row["victims_count"] - self.rng.choice((0, 0, 1)))
        d.update(hospital=name, hospital_at=at, victims_to_hospital=count, updated_at=max(d["updated_at"], at))
        case.events.append((at, codes[d["agency"]].lower(), "dispatch.hospital",
                            {"dispatch": d["id"], "agency": codes[d["agency"]], "hospital": name,
                             "victims_to_hospital": count, "channel": d["channel"]}))

    def _close(self, case: _Case, operator: str) -> None:
        inc, ds = case.row, case.dispatches
        finished = [d["finished_at"] for d in ds]
        all_finished = bool(ds) and all(finished)
        closed: datetime | None = None
        if not ds:
            closed = inc["recorded_at"] + _lognormal(self.rng, 600, 0.5)
        elif all_finished and self.rng.random() > 0.01:  # a few finished cases are never closed
            closed = max(finished) + _lognormal(self.rng, 150, 0.6)
        elif not all_finished and any(d["status"] == DispatchStatus.SENT.value for d in ds):
            # An agency that never answered: the call-taker closes once the others are done.
            done = [f for f in finished if f]
            if done and len(done) + 1 >= len(ds):
                closed = max(done) + _lognormal(self.rng, 1800, 0.5)
        closed = self._cut(closed)
        ranks = [DispatchStatus(d["status"]).rank for d in ds]
        if closed is not None:
            status = IncidentStatus.CLOSED
            inc.update(closed_at=closed, closed_by=operator, final_report="Kejadian telah ditangani")
            case.events.append((closed, operator, "incident.closed",
                                {"final_report": inc["final_report"],
                                 "unfinished_agencies": [d["id"] for d in ds if not d["finished_at"]]}))
        elif not ranks:
            status = IncidentStatus.RECORDED
        elif min(ranks) == DispatchStatus.FINISHED.rank:
            status = IncidentStatus.FINISHED
        else:
            status = IncidentStatus.HANDLING if max(ranks) >= DispatchStatus.EN_ROUTE.rank else (
                IncidentStatus.DISPATCHED)
        inc["status"] = status.value
        inc["updated_at"] = max([inc["recorded_at"], *(d["updated_at"] for d in ds), *([closed] if closed else [])])


_STAMPS = tuple((s, s.time_field) for s in DispatchStatus if s != DispatchStatus.SENT)


def _pick(rng: random.Random, items: Sequence[Any], cumulative: Sequence[float]) -> Any:
    """rng.choices(items, cum_weights=cumulative)[0], without its per-call overhead."""
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1], 0, len(items) - 1)]


def _cumulative(values: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def _day_counts(rng: random.Random, start: date, days: int, total: int) -> list[int]:
    """How many calls ring on each WIB day: seasons, busier weekends, day-to-day noise; sums to `total`."""
    weights = []
    for i in range(days):
        day = start + timedelta(days=i)
        weights.append(_MONTH_VOLUME[day.month - 1] * (1.1 if day.weekday() >= 5 else 1.0) * rng.uniform(0.8, 1.2))
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in rng.sample(range(days), total - sum(counts)):
        counts[i] += 1
    return counts


def _insert(model, rows: list[dict[str, Any]]) -> None:
    """Multi-row parameterised INSERTs, the SQL text built once per batch size: peewee's
    insert_many would build the text of every value (5x slower), and executemany is one round
    trip per row on PostgreSQL. Values go to the driver as peewee gives them (datetimes, text ids)."""
    if not rows:
        return
    db = db_proxy.obj
    fields = list(rows[0])
    columns = ", ".join(f'"{model._meta.fields[f].column_name}"' for f in fields)
    one_row = f"({', '.join([db.param] * len(fields))})"
    per_statement = max(1, 30_000 // len(fields))  # under SQLite's (32,766) and PostgreSQL's bound-parameter limits
    cursor = db.cursor()
    texts: dict[int, str] = {}
    for i in range(0, len(rows), per_statement):
        batch = rows[i:i + per_statement]
        if len(batch) not in texts:
            texts[len(batch)] = (f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES '
                                 + ", ".join([one_row] * len(batch)))
        cursor.execute(texts[len(batch)], [r[f] for r in batch for f in fields])


def _events(gen: _Generator) -> list[dict[str, Any]]:
    """Each posko's timeline as its app would have chained it: in time order, seq 1, 2, 3 …"""
    per_node: dict[str, list[tuple[datetime, str, str, dict, str | None]]] = defaultdict(list)
    for node, at, actor, kind, detail, incident in gen.call_events:
        per_node[node].append((at, actor, kind, detail, incident))
    for case in gen.cases:
        for at, actor, kind, detail in case.events:
            per_node[case.row["node"]].append((at, actor, kind, detail, case.row["id"]))
    rows = []
    for node in sorted(per_node):
        prev = GENESIS
        for seq, (at, actor, kind, detail, incident) in enumerate(sorted(per_node[node], key=lambda e: e[0]), 1):
            event = Event(id=_uuid7(gen.rng, at), node=node, incident=incident, seq=seq, at=at, actor=actor,
                          kind=kind, detail=json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str),
                          prev_hash=prev, created_at=at, updated_at=at)
            event.hash = prev = event_hash(event)
            rows.append({"id": event.id, "node": node, "created_at": at, "updated_at": at, "incident": incident,
                         "seq": seq, "at": at, "actor": actor, "kind": kind, "detail": event.detail,
                         "prev_hash": event.prev_hash, "hash": event.hash})
    return rows


def generate(seed: int = 112, start: date = date(2025, 1, 1), days: int = 365, calls: int = 100_000,
             poskos: Sequence[PoskoSpec] = POSKOS, events: bool = False) -> SyntheticResult:
    """Write `calls` calls (and their cases and dispatches) over `days` WIB days from `start`
    into the bound database, which must hold an active routing profile (an initialised node)."""
    t0 = clock.perf_counter()
    rng = random.Random(seed)
    start_utc = datetime(start.year, start.month, start.day, tzinfo=WIB).astimezone(UTC).replace(tzinfo=None)
    end_utc = start_utc + timedelta(days=days)
    gen = _Generator(rng, active_profile(), end_utc, poskos, events)
    type_codes, type_weights = zip(*TYPE_WEIGHTS, strict=True)
    posko_cum = list(_cumulative(p.weight for p in poskos))
    base_cum, prank_cum = list(_cumulative(_BASE_HOURS)), list(_cumulative(_PRANK_HOURS))
    type_cum = list(_cumulative(type_weights))
    recent: dict[str, list[_Case]] = defaultdict(list)
    for i, count in enumerate(_day_counts(rng, start, days, calls)):
        day_start = start_utc + timedelta(days=i)
        drawn = []
        for _ in range(count):
            call_type = _pick(rng, type_codes, type_cum)
            posko = _pick(rng, poskos, posko_cum)
            hour = _pick(rng, range(24), prank_cum if call_type == "prank" else base_cum)
            drawn.append((day_start + timedelta(hours=hour, seconds=rng.uniform(0, 3600)), posko, call_type))
        drawn.sort(key=lambda c: c[0])
        for rung, posko, call_type in drawn:
            window = recent[posko.node]
            while window and rung - window[0].row["recorded_at"] > timedelta(hours=1):
                window.pop(0)
            gen.call(posko, call_type, rung, window)
    incidents = [c.row for c in gen.cases]
    dispatches = [d for c in gen.cases for d in c.dispatches]
    event_rows = _events(gen) if events else []
    db = db_proxy.obj
    from sync import outbox

    with db.atomic():
        # Rows as sync would have applied them, not new changes of this node: the capture
        # triggers are set aside for the load (as a schema migration does), halving its time.
        outbox.uninstall(db)
        _insert(Incident, incidents)
        _insert(Call, gen.calls)
        _insert(Dispatch, dispatches)
        _insert(Event, event_rows)
        outbox.install(db)
    open_count = sum(1 for r in incidents if r["status"] != IncidentStatus.CLOSED.value)
    return SyntheticResult(
        calls=len(gen.calls), incidents=len(incidents), dispatches=len(dispatches), events=len(event_rows),
        open_incidents=open_count, start_utc=start_utc, end_utc=end_utc, seconds=clock.perf_counter() - t0,
        poskos=tuple(p.node for p in poskos), prank_numbers=tuple(gen.pranksters[:10]),
    )
