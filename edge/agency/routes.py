"""Agency station screens: the dispatch inbox (with its alarm) and the status buttons.

Views stay thin: they read the form, call `edge.services.dispatches` and redirect back
to the inbox; every accepted action lands on the incident timeline through the service.

The inbox has two parts. The new (not yet acknowledged) dispatches live in a fragment
that htmx reloads every few seconds (`data-poll`, so polling does not keep the session
alive) and carries `data-new-dispatches` for the alarm in siaga.js; it only holds the
"Diterima" button. Dispatches being handled, with their text fields, are rendered
with the page, so a refresh never wipes what the dispatcher is typing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for

from edge.agency import bp
from edge.enums import DispatchStatus, IncidentStatus, Role
from edge.i18n import translate
from edge.models import Dispatch, ReceivedDispatch
from edge.services import dispatches as dispatch_svc
from edge.services import station as station_svc
from edge.services.errors import Forbidden, NotFound, ServiceError
from edge.web import current_user, flash_error, form_data, roles_required

log = logging.getLogger("siaga112.agency")

UNACKNOWLEDGED = (DispatchStatus.SENT, DispatchStatus.RECEIVED)


@dataclass
class Inbox:
    new: list[Dispatch] = field(default_factory=list)  # waiting for "Diterima"
    active: list[Dispatch] = field(default_factory=list)  # acknowledged, not finished
    done: list[Dispatch] = field(default_factory=list)  # finished, or the case was closed
    received: list[ReceivedDispatch] = field(default_factory=list)  # came by radio/SMS, not synced yet
    messages: dict = field(default_factory=dict)  # received id -> its parsed dispatch
    answers: tuple = ()
    ranks: dict = field(default_factory=dict)

    @property
    def received_new(self) -> int:
        """Received by radio/SMS and not yet acknowledged: these ring the alarm too."""
        return sum(1 for r in self.received if r.status == DispatchStatus.RECEIVED.value)


def _show_all() -> bool:
    return request.args.get("all") in ("1", "true", "ya", "on")


def _load_inbox(include_finished: bool) -> Inbox:
    """The agency's dispatches, split for display; the ones shown now are stamped received."""
    user = current_user()
    rows = dispatch_svc.inbox(user.agency, include_finished=include_finished)
    unseen = [d for d in rows if d.status == DispatchStatus.SENT and d.incident.status != IncidentStatus.CLOSED]
    if unseen:
        try:
            dispatch_svc.mark_received(user, unseen)
        except ServiceError as exc:  # e.g. the case was closed a moment ago: show it anyway
            log.warning("marking dispatches received failed: %s", exc.message)
        rows = dispatch_svc.inbox(user.agency, include_finished=include_finished)
    box = Inbox(received=station_svc.waiting(user.agency, include_finished), answers=_answers(),
                ranks={s.value: s.rank for s in DispatchStatus})
    box.messages = {r.id: station_svc.message_of(r) for r in box.received}
    for d in rows:
        if d.status == DispatchStatus.FINISHED or d.incident.status == IncidentStatus.CLOSED:
            box.done.append(d)
        elif d.status in UNACKNOWLEDGED:
            box.new.append(d)
        else:
            box.active.append(d)
    return box


@bp.before_request
def poll_without_session():
    """A background poll after the session ended: send the whole page to the login form
    (instead of letting htmx swap the login page into the inbox)."""
    if current_user() is None and request.headers.get("HX-Request"):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for("auth.login", next=url_for("agency.inbox"))
        return response
    return None


@bp.route("/agency/inbox")
@roles_required(Role.AGENCY)
def inbox():
    show_all = _show_all()
    box = _load_inbox(include_finished=show_all)
    return render_template("agency/inbox.html", box=box, show_all=show_all, agency=current_user().agency)


@bp.route("/agency/inbox/new")
@roles_required(Role.AGENCY)
def inbox_new():
    """The polled fragment: new dispatches, the alert banner and `data-new-dispatches`."""
    box = _load_inbox(include_finished=False)
    return render_template("agency/_new.html", box=box, show_all=_show_all())


def _back(dispatch_id: str):
    target = url_for("agency.inbox", all=1) if _show_all() else url_for("agency.inbox")
    return redirect(f"{target}#d-{dispatch_id}")


def _run(dispatch_id: str, action):
    """Call a service for one dispatch; errors become a flash (or 404 for someone else's)."""
    try:
        return action()
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except ServiceError as exc:
        log.info("agency update refused for dispatch %s: %s", dispatch_id, exc.message)
        flash_error(exc)
        return None


@bp.route("/agency/dispatches/<dispatch_id>/status", methods=["POST"])
@roles_required(Role.AGENCY)
def status(dispatch_id: str):
    user = current_user()
    result = _run(dispatch_id, lambda: dispatch_svc.update_status(user, dispatch_id, form_data()))
    if result is not None:
        dispatch, changed = result
        if changed:
            flash(translate("{case_no}: status dicatat", case_no=dispatch.incident.case_no), "info")
        else:
            flash(translate("{case_no}: status ini sudah tercatat", case_no=dispatch.incident.case_no), "info")
    return _back(dispatch_id)


def _answers() -> tuple[tuple[str, str], ...]:
    return (("acknowledged", translate("Diterima")), ("en_route", translate("Berangkat")),
            ("on_scene", translate("Tiba di lokasi")), ("finished", translate("Selesai")))


@bp.route("/agency/received/<int:received_id>/answer", methods=["POST"])
@roles_required(Role.AGENCY)
def answer_received(received_id: int):
    """Answer a dispatch that came by radio or SMS: recorded here, the reply queued for the bridge."""
    data_dir = Path(current_app.config["DATA_DIR"])
    result = _run(str(received_id), lambda: station_svc.answer(current_user(), received_id, form_data(), data_dir))
    if result is not None:
        row, changed = result
        flash(translate("#{code}: jawaban dikirim lewat {channel}", code=row.code, channel=row.channel) if changed
              else translate("#{code}: status ini sudah tercatat", code=row.code), "info")
    return redirect(url_for("agency.inbox") + f"#r-{received_id}")


@bp.route("/agency/dispatches/<dispatch_id>/hospital", methods=["POST"])
@roles_required(Role.AGENCY)
def hospital(dispatch_id: str):
    user = current_user()
    dispatch = _run(dispatch_id, lambda: dispatch_svc.hospital_transfer(user, dispatch_id, form_data()))
    if dispatch is not None:
        flash(translate("{case_no}: korban ke {hospital} dicatat", case_no=dispatch.incident.case_no,
                        hospital=dispatch.hospital), "info")
    return _back(dispatch_id)
