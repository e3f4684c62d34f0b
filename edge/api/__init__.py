"""JSON API under /api/v1 with bearer tokens; same roles and service functions as the UI."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from edge.api import closed_cases, privacy, routes  # noqa: E402,F401
