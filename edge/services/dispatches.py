"""Agency side of a dispatch: inbox, "diterima", crew check, en route, on scene, hospital, finished.

A dispatch's status only moves forward (a late or repeated update is a no-op, never a
step back); every accepted update lands on the incident timeline with its channel.
"""

from __future__ import annotations

from edge.enums import Channel, DispatchStatus, IncidentStatus, Role
from edge.models import Agency, Dispatch, Incident, User
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.errors import Conflict, Forbidden, NotFound
from edge.services.incidents import refresh_status
from edge.services.validation import MAX_TEXT, Checker
from edge.timeutil import utcnow

AGENCY_STATUSES = (
    DispatchStatus.RECEIVED,
    DispatchStatus.ACKNOWLEDGED,
    DispatchStatus.PREPARED,
    DispatchStatus.EN_ROUTE,
    DispatchStatus.ON_SCENE,
    DispatchStatus.FINISHED,
)


def get_dispatch(actor: User, dispatch_id: str) -> Dispatch:
    """A dispatch visible to `actor`; another agency's dispatch is reported as not found."""
    dispatch = Dispatch.get_or_none(Dispatch.id == dispatch_id)
    if dispatch is None or (actor.role == Role.AGENCY and dispatch.agency_id != actor.agency_id):
        raise NotFound("Penugasan tidak ditemukan")
    return dispatch


def _can_update(actor: User, dispatch: Dispatch) -> None:
    if actor.role == Role.AGENCY:
        return  # visibility already limited to its own agency
    if actor.role not in (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Peran Anda tidak boleh mengubah status penugasan")


def update_status(actor: User, dispatch_id: str, data: dict | None) -> tuple[Dispatch, bool]:
    """Move a dispatch forward. Returns (dispatch, changed); repeating a status is a no-op."""
    check = Checker(data)
    status = check.choice("status", AGENCY_STATUSES, required=True)
    channel = check.choice("channel", Channel, default=Channel.APP.value)
    crew_count = check.integer("crew_count", lo=0, hi=1000)
    equipment = check.text("equipment", max_len=1000)
    report = check.text("report", max_len=MAX_TEXT)
    hospital = check.text("hospital", max_len=200)
    victims_to_hospital = check.integer("victims_to_hospital", lo=0, hi=10000)
    if status == DispatchStatus.FINISHED and not report:
        check.fail("report", "Tulis laporan singkat penyelesaian")
    if status == DispatchStatus.PREPARED and crew_count is None:
        check.fail("crew_count", "Isi jumlah personel")
    check.done()
    new = DispatchStatus(status)
    with write_tx():
        dispatch = get_dispatch(actor, dispatch_id)
        _can_update(actor, dispatch)
        incident: Incident = dispatch.incident
        current = DispatchStatus(dispatch.status)
        if new.rank <= current.rank:
            if new == current or new == DispatchStatus.RECEIVED:
                return dispatch, False
            raise Conflict("Status tidak bisa mundur dari '{current}' ke '{new}'", current=current, new=new)
        if incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup")
        now = utcnow()
        dispatch.status = new
        # Stamp the new status; a skipped "received" is implied by any later status.
        for step in list(DispatchStatus)[current.rank + 1 : new.rank + 1]:
            if step == new or step == DispatchStatus.RECEIVED:
                if getattr(dispatch, step.time_field) is None:
                    setattr(dispatch, step.time_field, now)
        detail: dict = {"dispatch": dispatch.id, "agency": dispatch.agency.code, "status": new.value,
                        "channel": channel}
        if crew_count is not None:
            dispatch.crew_count = crew_count
            detail["crew_count"] = crew_count
        if equipment:
            dispatch.equipment = equipment
            detail["equipment"] = equipment
        if report:
            dispatch.report = report
            detail["report"] = report
        if hospital:
            _record_hospital(dispatch, hospital, victims_to_hospital, now)
            detail.update(hospital=hospital, victims_to_hospital=victims_to_hospital)
        dispatch.save()
        append_event(incident, actor.username, f"dispatch.{new.value}", detail)
        refresh_status(incident)
    return dispatch, True


def _record_hospital(dispatch: Dispatch, hospital: str, count: int | None, now) -> None:
    dispatch.hospital = hospital
    dispatch.victims_to_hospital = count
    dispatch.hospital_at = dispatch.hospital_at or now


def hospital_transfer(actor: User, dispatch_id: str, data: dict | None) -> Dispatch:
    """Victims taken to a hospital (which RS, how many): step 8 of the procedure."""
    check = Checker(data)
    hospital = check.text("hospital", required=True, max_len=200)
    count = check.integer("victims_to_hospital", required=True, lo=0, hi=10000)
    channel = check.choice("channel", Channel, default=Channel.APP.value)
    check.done()
    with write_tx():
        dispatch = get_dispatch(actor, dispatch_id)
        _can_update(actor, dispatch)
        if dispatch.incident.status == IncidentStatus.CLOSED:
            raise Conflict("Kasus sudah ditutup")
        _record_hospital(dispatch, hospital, count, utcnow())
        dispatch.save()
        append_event(dispatch.incident, actor.username, "dispatch.hospital",
                     {"dispatch": dispatch.id, "agency": dispatch.agency.code, "hospital": hospital,
                      "victims_to_hospital": count, "channel": channel})
    return dispatch


def mark_received(actor: User, dispatches: list[Dispatch]) -> int:
    """The agency station has shown these dispatches: stamp them received."""
    # A closed case's dispatch cannot move any more (update_status would raise Conflict).
    fresh = [d for d in dispatches if d.status == DispatchStatus.SENT and d.incident.status != IncidentStatus.CLOSED]
    for dispatch in fresh:
        update_status(actor, dispatch.id, {"status": DispatchStatus.RECEIVED.value})
    return len(fresh)


def inbox(agency: Agency, include_finished: bool = False, limit: int = 100) -> list[Dispatch]:
    """The agency's dispatches, unacknowledged first, then newest."""
    query = Dispatch.select(Dispatch, Incident).join(Incident).where(Dispatch.agency == agency)
    if not include_finished:
        query = query.where(
            (Dispatch.status != DispatchStatus.FINISHED) & (Incident.status != IncidentStatus.CLOSED)
        )
    rows = list(query.order_by(Dispatch.sent_at.desc()).limit(limit))
    rows.sort(key=lambda d: DispatchStatus(d.status).rank >= DispatchStatus.ACKNOWLEDGED.rank)
    return rows
