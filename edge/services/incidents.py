"""Incidents: intake, related-case detection, dispatching agencies, closing, search.

The intake fields are those of Bengkalis Lampiran II step 2. Suggested agencies come
from the active routing profile; the call-taker may add or remove before dispatching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from edge.enums import (
    OPEN_INCIDENT_STATUSES,
    Channel,
    DispatchStatus,
    IncidentStatus,
    Role,
    VictimCondition,
)
from edge.ids import stable_id
from edge.models import Agency, Call, Counter, Dispatch, Event, Incident, User
from edge.profile import Profile
from edge.services import node_id, write_tx
from edge.services.audit import append_event
from edge.services.calls import attach_call, get_call
from edge.services.errors import Conflict, Forbidden, NotFound, ValidationError
from edge.services.privacy import CallerView, view_for
from edge.services.profiles import active_profile
from edge.services.validation import MAX_TEXT, Checker
from edge.timeutil import utcnow, wib_day_bounds, wib_today

RELATED_RADIUS_M = 300
RELATED_WINDOW = timedelta(hours=1)

INTAKE_FIELDS = (
    "reporter_name", "reporter_number", "incident_type", "address", "kecamatan", "desa", "landmark",
    "latitude", "longitude", "victims_count", "victims_condition", "four_wheel_access",
    "initial_handling", "situation", "priority",
)


def validate_intake(data: dict | None, partial: bool = False, profile: Profile | None = None) -> dict:
    """Clean intake fields; raises ValidationError naming every bad field. `profile`: the active
    routing profile when the caller already holds it."""
    check = Checker(data)
    profile = profile or active_profile()
    type_codes = [t.code for t in profile.incident_types]
    out: dict = {}
    present = (lambda f: f in check.data) if partial else (lambda f: True)
    if present("incident_type"):
        out["incident_type"] = check.integer("incident_type", required=True)
        if out["incident_type"] is not None and out["incident_type"] not in type_codes:
            check.fail("incident_type", "Jenis kejadian tidak dikenal")
    for field in ("reporter_name", "kecamatan", "desa", "landmark"):
        if present(field):
            out[field] = check.text(field)
    if present("reporter_number"):
        out["reporter_number"] = check.phone("reporter_number")
    for field in ("address", "initial_handling", "situation"):
        if present(field):
            out[field] = check.text(field, max_len=MAX_TEXT)
    if present("latitude"):
        out["latitude"] = check.number("latitude", -90, 90)
    if present("longitude"):
        out["longitude"] = check.number("longitude", -180, 180)
    if not partial and (out["latitude"] is None) != (out["longitude"] is None):
        check.fail("longitude" if out["longitude"] is None else "latitude", "Isi lintang dan bujur bersama")
    if present("victims_count"):
        out["victims_count"] = check.integer("victims_count", lo=0, hi=10000, default=0)
    if present("victims_condition"):
        out["victims_condition"] = check.choice("victims_condition", VictimCondition,
                                                default=VictimCondition.UNKNOWN.value)
    if present("four_wheel_access"):
        out["four_wheel_access"] = check.boolean("four_wheel_access")
    if present("priority"):
        out["priority"] = check.integer("priority", lo=1, hi=3)
    if not partial and not (out.get("address") or out.get("landmark") or out.get("desa")
                            or out.get("latitude") is not None):
        check.fail("address", "Isi alamat, patokan, desa atau koordinat")
    check.done()
    if partial and "priority" in out and out["priority"] is None:
        del out["priority"]  # an empty choice keeps the current priority
    if not partial and out.get("priority") is None and out.get("incident_type") in type_codes:
        out["priority"] = profile.incident_type(out["incident_type"]).priority
    return out


def _next_case_no(node: str) -> str:
    year = wib_today().year  # the year an operator in Bengkalis sees on the wall calendar
    name = f"case_no:{year}"
    Counter.insert(name=name, value=0).on_conflict_ignore().execute()
    Counter.update(value=Counter.value + 1).where(Counter.name == name).execute()
    value = Counter.get(Counter.name == name).value
    return f"{node}-{year}-{value:05d}"


@dataclass
class IntakeResult:
    incident: Incident
    suggested_agencies: list[str]
    related: list[Incident]


def create_incident(actor: User, data: dict | None, call_id: str | None = None) -> IntakeResult:
    """Record a case from the intake form (optionally from an answered call)."""
    _require_intake_role(actor)
    # Everything that needs no lock (validation, the profile, the node id) before the write transaction.
    profile = active_profile()
    fields = validate_intake(data, profile=profile)
    node = node_id()
    with write_tx():
        call = get_call(call_id) if call_id else None
        incident = Incident.create(
            node=node, case_no=_next_case_no(node), profile_id=profile.id,
            recorded_by=actor.username, **fields,
        )
        append_event(incident, actor.username, "incident.created",
                     {"case_no": incident.case_no, "incident_type": incident.incident_type,
                      "priority": incident.priority})
        if call is not None:
            attach_call(actor, call, incident, "call.attached")
    return IntakeResult(
        incident,
        list(profile.suggested_agencies(incident.incident_type)),
        related_open_incidents(incident.incident_type, incident.desa, incident.latitude,
                               incident.longitude, exclude_id=incident.id),
    )


def update_incident(actor: User, incident_id: str, data: dict | None) -> Incident:
    """Edit intake fields of an open case; the timeline records which fields changed."""
    _require_intake_role(actor)
    fields = validate_intake(data, partial=True)
    with write_tx():
        incident = get_incident(actor, incident_id)
        if incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup")
        changed = {k: v for k, v in fields.items() if getattr(incident, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(incident, key, value)
            incident.save()
            append_event(incident, actor.username, "incident.updated", {"changed": changed})
    return incident


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def related_open_incidents(
    incident_type: int | None, desa: str | None, latitude: float | None, longitude: float | None,
    exclude_id: str | None = None, now: datetime | None = None,
) -> list[Incident]:
    """Open cases of the same type, recorded in the last hour, in the same desa or nearby."""
    if incident_type is None:
        return []
    result = []
    for inc in recent_open_query(incident_type, now or utcnow(), exclude_id):
        same_desa = bool(desa) and inc.desa.strip().lower() == desa.strip().lower()
        near = (
            latitude is not None and longitude is not None and inc.latitude is not None
            and inc.longitude is not None
            and distance_m(latitude, longitude, inc.latitude, inc.longitude) <= RELATED_RADIUS_M
        )
        if same_desa or near:
            result.append(inc)
    return result


def recent_open_query(incident_type: int, now: datetime, exclude_id: str | None = None):
    """Open cases of `incident_type` recorded in the hour before `now`, newest first (at most 50):
    read through the index on (incident_type, recorded_at), only that hour's cases of the type."""
    query = Incident.select().where(
        (Incident.incident_type == incident_type)
        & (Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES]))
        & (Incident.recorded_at >= now - RELATED_WINDOW)
    )
    if exclude_id:
        query = query.where(Incident.id != exclude_id)
    return query.order_by(Incident.recorded_at.desc()).limit(50)


def _require_intake_role(actor: User) -> None:
    if actor.role not in (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Peran Anda tidak boleh mencatat atau mengubah kasus")


def get_incident(actor: User, incident_id: str) -> Incident:
    """An incident visible to `actor` (an agency user sees only cases dispatched to it)."""
    incident = Incident.get_or_none(Incident.id == incident_id)
    if incident is None:
        raise NotFound("Kasus tidak ditemukan")
    if actor.role == Role.AGENCY and not Dispatch.select().where(
        (Dispatch.incident == incident) & (Dispatch.agency == actor.agency_id)
    ).exists():
        raise NotFound("Kasus tidak ditemukan")
    return incident


def dispatch_agencies(
    actor: User, incident_id: str, agency_codes: list[str], channel: str = Channel.APP.value,
) -> list[Dispatch]:
    """Send the case to these agencies (already dispatched ones are skipped)."""
    _require_intake_role(actor)
    check = Checker({"agencies": agency_codes, "channel": channel})
    codes = check.string_list("agencies")
    channel = check.choice("channel", Channel, default=Channel.APP.value)
    if not codes and "agencies" not in check.errors:
        check.fail("agencies", "Pilih minimal satu instansi")
    check.done()
    agencies = {a.code: a for a in Agency.select().where(Agency.code.in_([c.upper() for c in codes]))}
    unknown = [c for c in codes if c.upper() not in agencies]
    if unknown:
        names = ", ".join(unknown)
        raise ValidationError({"agencies": f"Instansi tidak dikenal: {names}"})
    created = []
    node = node_id()
    with write_tx():
        incident = get_incident(actor, incident_id)
        if incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup")
        existing = {d.agency_id for d in incident.dispatches}
        todo = [agency for agency in agencies.values() if agency.id not in existing]
        for agency, code in zip(todo, _dispatch_codes(len(todo)), strict=True):
            dispatch = Dispatch.create(id=stable_id("dispatch", f"{incident.id}/{agency.code}"), node=node,
                                       code=code, incident=incident, agency=agency, channel=channel,
                                       sent_by=actor.username)
            created.append(dispatch)
            append_event(incident, actor.username, "dispatch.sent",
                         {"dispatch": dispatch.id, "agency": agency.code, "channel": channel})
        if created:
            refresh_status(incident)
    return created


def dispatch_choices(incident: Incident, profile, dispatched: set[str]) -> tuple[list[str], list[Agency]]:
    """For the dispatch form: the profile's suggestions not yet dispatched, and every active
    agency with the suggestions first (in the profile's order), the rest alphabetically."""
    suggestions = profile.suggested_agencies(incident.incident_type)
    order = {code: i for i, code in enumerate(suggestions)}
    agencies = sorted(Agency.select().where(Agency.active == True),  # noqa: E712
                      key=lambda a: (order.get(a.code, len(order)), a.code))
    return [c for c in suggestions if c not in dispatched], agencies


def codes_in_use() -> set[str]:
    """Codes an agency may still quote: those of unfinished dispatches of open cases. A closed
    case's dispatch no longer takes replies (sms_routing), so its code is free again. The case's
    status is matched with IN (not `!= closed`), so SQLite walks the few open cases through the
    status index instead of every dispatch ever sent."""
    return {d.code for d in codes_in_use_query()}


def codes_in_use_query():
    """The query of codes_in_use (tests/test_intake_indexes.py checks its plan)."""
    open_statuses = [s.value for s in IncidentStatus if s != IncidentStatus.CLOSED]
    return (Dispatch.select(Dispatch.code).join(Incident)
            .where(Incident.status.in_(open_statuses) & (Dispatch.status != DispatchStatus.FINISHED)))


def codes_taken(codes: list[str]) -> set[str]:
    """Which of `codes` an unfinished dispatch of an open case quotes (what codes_in_use would hold):
    one query through the index on dispatch (code, status), cheap inside the write transaction
    however large the archive. The case's status is matched with `!=` on purpose, so that SQLite
    starts from the codes, not from the open cases."""
    if not codes:
        return set()
    return {d.code for d in codes_taken_query(codes)}


def codes_taken_query(codes: list[str]):
    """The query of codes_taken (tests/test_intake_indexes.py checks its plan)."""
    return (Dispatch.select(Dispatch.code).join(Incident)
            .where(Dispatch.code.in_(codes) & (Dispatch.status != DispatchStatus.FINISHED)
                   & (Incident.status != IncidentStatus.CLOSED)))


CODE_DRAWS = 100  # random codes drawn per dispatch before giving up (the 9,000 codes nearly all in use)


def _dispatch_codes(n: int) -> list[str]:
    """`n` distinct codes of 4 random digits (1000-9999), none in use: what an agency quotes in an
    SMS or radio reply ("OK 4821"). Candidates are checked a batch at a time (usually one query for
    the whole round). Call inside the write transaction that creates the dispatches: no other
    writer can take a code meanwhile."""
    import secrets

    chosen: list[str] = []
    drawn, budget = 0, CODE_DRAWS * n
    while len(chosen) < n:
        if drawn >= budget:
            raise Conflict("Terlalu banyak penugasan terbuka")
        candidates: list[str] = []
        while len(candidates) < 2 * (n - len(chosen)) + 2 and drawn < budget:
            code = str(1000 + secrets.randbelow(9000))
            drawn += 1
            if code not in chosen and code not in candidates:
                candidates.append(code)
        taken = codes_taken(candidates)
        chosen += [c for c in candidates if c not in taken][: n - len(chosen)]
    return chosen


def refresh_status(incident: Incident) -> None:
    """Derive the open-case status from its dispatches (inside the caller's transaction)."""
    if incident.status == IncidentStatus.CLOSED:
        return
    ranks = [DispatchStatus(d.status).rank for d in incident.dispatches]
    if not ranks:
        new = IncidentStatus.RECORDED
    elif min(ranks) >= DispatchStatus.FINISHED.rank:
        new = IncidentStatus.FINISHED
    elif max(ranks) >= DispatchStatus.EN_ROUTE.rank:
        new = IncidentStatus.HANDLING
    else:
        new = IncidentStatus.DISPATCHED
    if new != incident.status:
        incident.status = new
        incident.save()


def add_note(actor: User, incident_id: str, data: dict | None) -> Event:
    check = Checker(data)
    text = check.text("text", required=True, max_len=MAX_TEXT)
    check.done()
    with write_tx():
        incident = get_incident(actor, incident_id)
        return append_event(incident, actor.username, "note", {"text": text})


def close_incident(actor: User, incident_id: str, data: dict | None) -> Incident:
    """Close with a final report; agencies still working are told the case is closed."""
    if actor.role not in (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Peran Anda tidak boleh menutup kasus")
    check = Checker(data)
    report = check.text("final_report", required=True, max_len=MAX_TEXT)
    check.done()
    with write_tx():
        incident = get_incident(actor, incident_id)
        if incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup")
        open_dispatches = [d.agency.code for d in incident.dispatches if d.status != DispatchStatus.FINISHED]
        incident.status = IncidentStatus.CLOSED
        incident.closed_at = utcnow()
        incident.closed_by = actor.username
        incident.final_report = report
        incident.save()
        append_event(incident, actor.username, "incident.closed",
                     {"final_report": report, "unfinished_agencies": open_dispatches})
    return incident


@dataclass
class IncidentQuery:
    status: str | None = None  # an IncidentStatus, or "open"
    incident_type: int | None = None
    date_from: date | None = None  # WIB days, inclusive
    date_to: date | None = None
    q: str = ""
    limit: int = 50
    offset: int = 0


def parse_query(args: dict) -> IncidentQuery:
    check = Checker(args)
    status = check.choice("status", [*IncidentStatus, "open"])
    itype = check.integer("type", lo=1, hi=99)
    dates = {}
    for field in ("from", "to"):
        raw = check.text(field, max_len=10)
        try:
            dates[field] = date.fromisoformat(raw) if raw else None
            if dates[field]:
                wib_day_bounds(dates[field])  # OverflowError at the ends of the calendar (0001-01-01)
        except (ValueError, OverflowError):
            check.fail(field, "Tanggal tidak valid (YYYY-MM-DD)")
    q = check.text("q", max_len=100)
    limit = check.integer("limit", lo=1, hi=500, default=50)
    offset = check.integer("offset", lo=0, hi=10_000_000, default=0)
    check.done()
    return IncidentQuery(status, itype, dates.get("from"), dates.get("to"), q, limit, offset)


def search_incidents(actor: User, query: IncidentQuery) -> tuple[list[Incident], int]:
    """Cases matching the filters, newest first, and the total count."""
    sel = Incident.select()
    if actor.role == Role.AGENCY:
        sel = sel.where(Incident.id.in_(
            Dispatch.select(Dispatch.incident).where(Dispatch.agency == actor.agency_id)))
    if query.status == "open":
        sel = sel.where(Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES]))
    elif query.status:
        sel = sel.where(Incident.status == query.status)
    if query.incident_type:
        sel = sel.where(Incident.incident_type == query.incident_type)
    if query.date_from:
        sel = sel.where(Incident.recorded_at >= wib_day_bounds(query.date_from)[0])
    if query.date_to:
        sel = sel.where(Incident.recorded_at < wib_day_bounds(query.date_to)[1])
    if query.q:
        like = f"%{query.q}%"
        columns = (Incident.case_no, Incident.address, Incident.desa, Incident.kecamatan, Incident.landmark,
                   Incident.reporter_name, Incident.reporter_number, Incident.situation, Incident.final_report)
        if view_for(actor.role) != CallerView.FULL:  # no finding a case by a caller's name or number
            columns = columns[:5]  # case number and place only (the reporter and free text may name the caller)
        condition = columns[0] ** like  # ** is case-insensitive LIKE / ILIKE
        for column in columns[1:]:
            condition = condition | (column ** like)
        sel = sel.where(condition)
    total = sel.count()
    rows = list(sel.order_by(Incident.recorded_at.desc()).limit(query.limit).offset(query.offset))
    return rows, total


def first_call(incident: Incident) -> Call | None:
    return incident.calls.order_by(Call.rung_at).first()


def timeline(incident: Incident) -> list[Event]:
    return list(incident.events.order_by(Event.at, Event.seq))
