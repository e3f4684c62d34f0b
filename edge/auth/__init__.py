"""Login, logout, password change and language switch."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from edge.auth import routes  # noqa: E402,F401
