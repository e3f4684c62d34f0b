from __future__ import annotations

from edge.api import bp


@bp.route("/openapi.json")
def openapi():
    return {"openapi": "3.0.3"}
