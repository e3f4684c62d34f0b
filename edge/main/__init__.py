"""Call-taker screens: board, new call and intake, incident detail and dispatch, archive."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from edge.main import routes  # noqa: E402,F401
