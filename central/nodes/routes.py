"""Central's node administration pages: the regency PKI's nodes, enrolment with bundle download,
revocation with confirmation. Thin views over central.nodes.service (admin only)."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for

from central.nodes import bp
from central.nodes import service as svc
from edge.enums import Role
from edge.i18n import translate
from edge.services.admin import list_agencies
from edge.services.errors import ServiceError, ValidationError
from edge.web import current_user, error_text, field_errors, flash_error, form_data, roles_required


def _places() -> svc.Places:
    return svc.Places.from_config(current_app.config)


def _index(values: dict | None = None, errors: dict | None = None, status: int = 200):
    places = _places()
    nodes, problem = [], None
    try:
        nodes = svc.list_nodes(places)
    except ServiceError as exc:
        problem = error_text(exc)
    host, port = svc.broker_defaults(places)
    values = values or {"broker_host": host, "broker_port": str(port)}
    return render_template("nodes/index.html", nodes=nodes, problem=problem, places=places, values=values,
                           errors=errors or {}, agencies=list_agencies(), roles=svc.pki_lib.ROLES,
                           created=request.args.get("baru")), status


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    return _index()


@bp.post("/")
@roles_required(Role.ADMIN)
def enrol():
    data = form_data()
    try:
        svc.enrol(current_user(), _places(), data)
    except ValidationError as exc:
        return _index(data, field_errors(exc), 422)
    except ServiceError as exc:
        flash_error(exc)
        return _index(data, None, exc.status_code)
    node_id = data["node_id"].strip().lower()
    flash(translate("Node {node} terdaftar; unduh bundelnya dan bawa ke node itu", node=node_id), "success")
    return redirect(url_for("nodes.index", baru=node_id))


@bp.post("/<node_id>/bundel")
@roles_required(Role.ADMIN)
def bundle(node_id: str):
    try:
        data = svc.bundle_for_download(current_user(), _places(), node_id)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("nodes.index"))
    response = make_response(data)
    response.headers["Content-Type"] = "application/json"
    response.headers["Content-Disposition"] = f'attachment; filename="{node_id}-bundle.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<node_id>/cabut")
@roles_required(Role.ADMIN)
def revoke_form(node_id: str):
    nodes = {n.node_id: n for n in _safe_list()}
    if node_id not in nodes:
        flash(translate("Node tidak ditemukan"), "error")
        return redirect(url_for("nodes.index"))
    return render_template("nodes/revoke.html", node=nodes[node_id])


def _safe_list() -> list[svc.NodeEntry]:
    try:
        return svc.list_nodes(_places())
    except ServiceError:
        return []


@bp.post("/<node_id>/cabut")
@roles_required(Role.ADMIN)
def revoke(node_id: str):
    try:
        result = svc.revoke(current_user(), _places(), node_id, request.form.get("confirm"))
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("nodes.revoke_form", node_id=node_id) if exc.status_code == 409
                        else url_for("nodes.index"))
    flash(translate("Node {node} dicabut; CRL baru sudah ditandatangani", node=node_id), "success")
    for note in result.notes:
        flash(translate(note), "info")
    return redirect(url_for("nodes.index"))
