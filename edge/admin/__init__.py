"""Administration: users and the routing profile."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from edge.admin import routes  # noqa: E402,F401
