from __future__ import annotations

from edge.enums import Role
from edge.reports import bp
from edge.web import roles_required


@bp.route("/reports/shift")
@roles_required(Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN, Role.CENTRAL)
def shift():
    return "TODO"
