from __future__ import annotations

from edge.agency import bp
from edge.enums import Role
from edge.web import roles_required


@bp.route("/agency/inbox")
@roles_required(Role.AGENCY)
def inbox():
    return "TODO"
