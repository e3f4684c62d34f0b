"""Live overview for Diskominfotik: every open case across posko on one board and a map, node sync
state, SOP breaches.
"""

from flask import Blueprint

bp = Blueprint("overview", __name__, template_folder="templates", url_prefix="/pusat",
               static_folder="static", static_url_path="/static/overview")

from central.overview import routes  # noqa: E402,F401
