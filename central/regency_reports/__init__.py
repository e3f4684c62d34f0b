"""Regency reports for a chosen period (monthly complaint report, quarterly Perbup 48/2025 monitoring)
with PDF, XLSX and CSV export.
"""

from flask import Blueprint

bp = Blueprint("regency", __name__, template_folder="templates", url_prefix="/pusat/laporan")

from central.regency_reports import routes  # noqa: E402,F401
