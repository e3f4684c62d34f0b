"""The export page: pick a period and a format, download closed cases (CAP 1.2 zip, EIDO JSON,
per-case records, calls CSV), or one case's record. Thin: parsing here, formats in
central.interchange, privacy in edge.services.privacy."""

from __future__ import annotations

import json
import tempfile

from flask import abort, render_template, request, send_file

from central.exports import bp
from central.exports.service import (
    EXPORT_ROLES,
    export_scrubber,
    forced_pseudonyms,
    latest_closed,
    period_counts,
)
from central.interchange import bundle, cap, eido
from central.interchange.case_record import closed_case, record
from edge.services.errors import NotFound, ValidationError
from edge.web import attachment, current_user, field_errors, roles_required

PER_CASE = {"record": ("json", "application/json"), "cap": ("cap.xml", "application/xml"),
            "eido": ("eido.json", "application/json")}


def _page(period=None, errors: dict | None = None, status: int = 200):
    role = current_user().role
    return render_template(
        "exports/index.html", period=period, errors=errors or {}, args=request.args,
        counts=period_counts(period) if period else None, latest=latest_closed(period) if period else [],
        formats=list(bundle.FORMATS),
        forced=forced_pseudonyms(role),
    ), status


@bp.get("/")
@roles_required(*EXPORT_ROLES)
def index():
    try:
        period = bundle.parse_period(request.args)
    except ValidationError as exc:
        return _page(errors=field_errors(exc), status=422)
    return _page(period)


@bp.get("/unduh")
@roles_required(*EXPORT_ROLES)
def download():
    # A year of records is ~150 MB: spool to a temporary file past 8 MB instead of holding it all.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        period = bundle.parse_period(request.args)
        fmt = request.args.get("format", "")
        scrubber = export_scrubber(current_user().role, request.args)
        bundle.write(fmt, period, scrubber, out)
    except ValidationError as exc:
        out.close()
        return _page(errors=field_errors(exc), status=422)
    out.seek(0)
    name = bundle.filename(fmt, period).replace("siaga112-", "siaga112-pseudo-" if scrubber.hides else "siaga112-")
    response = send_file(out, mimetype=bundle.FORMATS[fmt][1], as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/kasus/<case>/<any(record, cap, eido):kind>")
@roles_required(*EXPORT_ROLES)
def case_file(case: str, kind: str):
    """One closed case (by id or case number) as its record, CAP alert or EIDO document."""
    try:
        rec = record(closed_case(case), export_scrubber(current_user().role, request.args))
    except NotFound:
        abort(404)
    if kind == "cap":
        data = cap.alert_xml(rec)
    else:
        doc = eido.eido_document(rec) if kind == "eido" else rec
        data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    ext, mimetype = PER_CASE[kind]
    return attachment(data, f"{rec['case_no']}.{ext}", mimetype)
