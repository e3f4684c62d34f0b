"""The regency's agencies as the admin keeps them: contact numbers, radio callsigns, stations.

Agencies are replicated records, so an edit made at central reaches every posko and station
through sync (and an edit made at a posko during an outage reaches central when the link is
back). The routing profile brings the agencies of its directory with their names; what the
profile does not know is kept here: the number SMS dispatches go to, the radio callsign of the
agency's station, the node id of its station, whether it is still dispatched at all, and
agencies the profile does not list (a new puskesmas). Every change is an audit event
(`agency.create`, `agency.update`) in the same transaction, with what changed.
"""

from __future__ import annotations

import re

from edge.callsign import normalise_callsign
from edge.enums import Role
from edge.ids import stable_id
from edge.models import Agency, User
from edge.profile import AGENCY_KINDS
from edge.services import node_id, write_tx
from edge.services.audit import append_event
from edge.services.errors import Conflict, Forbidden, NotFound
from edge.services.validation import Checker

CODE_RE = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")
NODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
EDITABLE = ("name", "name_en", "kind", "phone", "radio_callsign", "station_node", "active")


def _require_admin(actor: User) -> None:
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden("Hanya administrator yang boleh mengelola instansi")


def list_agencies() -> list[Agency]:
    """Every agency, active first."""
    return list(Agency.select().order_by(Agency.active.desc(), Agency.code))


def get_agency(code: str) -> Agency:
    agency = Agency.get_or_none(Agency.code == (code or "").strip().upper())
    if agency is None:
        raise NotFound("Instansi tidak ditemukan")
    return agency


def _fields(check: Checker, creating: bool) -> dict:
    values = {
        "name": check.text("name", required=True, max_len=100),
        "name_en": check.text("name_en", max_len=100),
        "kind": check.choice("kind", AGENCY_KINDS, default="other"),
        "phone": check.phone("phone"),
        "radio_callsign": check.text("radio_callsign", max_len=9).upper(),
        "station_node": check.text("station_node", max_len=32).lower(),
        "active": check.boolean("active"),
    }
    if values["radio_callsign"]:
        canonical = normalise_callsign(values["radio_callsign"])
        if canonical is None:
            check.fail("radio_callsign", "Callsign radio 1-6 huruf/angka, boleh dengan SSID -0 s.d. -15 (mis. DAMKR1)")
        values["radio_callsign"] = canonical or ""
    if values["station_node"] and not NODE_RE.match(values["station_node"]):
        check.fail("station_node", "ID node 2-32 huruf kecil, angka atau strip (mis. damkar-1)")
    if values["active"] is None:
        values["active"] = True if creating else None
    return values


def create_agency(actor: User, data: dict | None) -> Agency:
    """Add an agency the routing profile does not list."""
    _require_admin(actor)
    check = Checker(data)
    code = check.text("code", required=True, max_len=32).upper()
    if code and not CODE_RE.match(code):
        check.fail("code", "Kode 2-32 huruf besar, angka, garis bawah atau strip (mis. PUSKESMAS_BANTAN)")
    values = _fields(check, creating=True)
    check.done()
    with write_tx():
        if Agency.get_or_none(Agency.code == code) is not None:
            raise Conflict("Instansi {code} sudah ada", code=code)
        agency = Agency.create(id=stable_id("agency", code), code=code, node=node_id(), **values)
        append_event(None, actor.username, "agency.create", {"agency": code, **values})
    return agency


def update_agency(actor: User, code: str, data: dict | None) -> tuple[Agency, dict]:
    """Change an agency's fields; returns (agency, {field: [old, new]}) of what changed."""
    _require_admin(actor)
    check = Checker(data)
    values = _fields(check, creating=False)
    check.done()
    with write_tx():
        agency = get_agency(code)
        changed = {}
        for field in EDITABLE:
            new = values[field]
            if new is None:
                continue
            old = getattr(agency, field)
            if old != new:
                changed[field] = [old, new]
                setattr(agency, field, new)
        if changed:
            agency.save()
            append_event(None, actor.username, "agency.update", {"agency": agency.code, "changed": changed})
    return agency, changed
