"""Administration from central: node enrolment and revocation (the regency PKI) from the UI."""

from flask import Blueprint

bp = Blueprint("nodes", __name__, template_folder="templates", url_prefix="/pusat/node")

from central.nodes import routes  # noqa: E402,F401
