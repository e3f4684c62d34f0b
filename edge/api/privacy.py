"""Callers' personal data in API answers: every JSON answer passes through the caller-privacy
view of the token's role (edge.services.privacy) on its way out, so no route can forget it.

Key-based (reporter_name, reporter_number, caller_number, number, free-text keys), like the
pages' template filters and the exports; answers that already applied a view themselves (the
closed-case feed) set `g.privacy_applied`.
"""

from __future__ import annotations

from flask import Response, current_app, g

from edge.api import bp
from edge.services.privacy import scrubber_for


@bp.after_request
def hide_caller_data(response: Response) -> Response:
    user = g.get("api_user")
    if user is None or g.get("privacy_applied") or not response.is_json:
        return response
    scrubber = scrubber_for(user.role)
    if not scrubber.hides or response.status_code >= 400:
        return response
    doc = response.get_json(silent=True)
    if doc is None:
        return response
    response.set_data(current_app.json.dumps(scrubber.record(doc)))
    return response
