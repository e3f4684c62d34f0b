"""Closed cases for the central data store (Singkawang SOP step 8, "data per kasus"):
`GET /closed-cases?after=CURSOR` walks every closed case exactly once, in the order it
became closed at this node; `GET /closed-cases/<id or case_no>` gives one case's record.

The records and the feed order are central.interchange's; the privacy view is the export's
(full only for roles that see callers and did not ask for `pseudonymise=1`; pseudonyms for
everyone else, e.g. the analyst).
"""

from __future__ import annotations

from flask import g, request

from edge.api import bp
from edge.api.auth import EXPORT_ROLES, api_user, require
from edge.services.privacy import Scrubber, export_view
from edge.services.validation import Checker


def _scrubber(pseudonymise: bool | None) -> Scrubber:
    g.privacy_applied = True
    return Scrubber(export_view(api_user().role, bool(pseudonymise)))


@bp.get("/closed-cases")
@require(*EXPORT_ROLES)
def closed_cases_feed():
    from central.interchange.case_record import records  # central.interchange reads edge.api.serialize
    from central.interchange.feed import MAX_LIMIT, closed_feed

    check = Checker(request.args)
    after = check.integer("after", lo=0, hi=2**62, default=0)
    limit = check.integer("limit", lo=1, hi=MAX_LIMIT, default=100)
    pseudonymise = check.boolean("pseudonymise")
    check.done()
    page = closed_feed(after, limit)
    scrubber = _scrubber(pseudonymise)
    docs = records((inc for _pos, inc in page.items), scrubber)
    items = [{"position": pos, "record": doc} for (pos, _inc), doc in zip(page.items, docs, strict=True)]
    return {"items": items, "next_cursor": page.next_cursor, "has_more": page.has_more}


@bp.get("/closed-cases/<case>")
@require(*EXPORT_ROLES)
def closed_case_record(case: str):
    from central.interchange import eido
    from central.interchange.case_record import closed_case, record

    check = Checker(request.args)
    fmt = check.choice("format", ("record", "eido"), default="record")
    pseudonymise = check.boolean("pseudonymise")
    check.done()
    doc = record(closed_case(case), _scrubber(pseudonymise))
    return eido.eido_document(doc) if fmt == "eido" else doc
