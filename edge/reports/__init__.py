"""Posko reports: daily / shift summary and CSV export."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from edge.reports import routes  # noqa: E402,F401
