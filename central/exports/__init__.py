"""Data for the national centre: closed cases as CAP 1.2 and EIDO-style JSON, per-case data for the
central data store.
"""

from flask import Blueprint

bp = Blueprint("exports", __name__, template_folder="templates", url_prefix="/pusat/ekspor")

from central.exports import routes  # noqa: E402,F401
