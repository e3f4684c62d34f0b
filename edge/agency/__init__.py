"""Agency station screens: the dispatch inbox with alerts and the status buttons."""

from flask import Blueprint

bp = Blueprint("agency", __name__)

from edge.agency import routes  # noqa: E402,F401
