from __future__ import annotations

from edge.admin import bp
from edge.enums import Role
from edge.web import roles_required


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    return "TODO"
