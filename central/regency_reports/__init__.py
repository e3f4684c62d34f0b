"""Regency reports for a chosen period (monthly complaint report, quarterly Perbup 48/2025
monitoring and evaluation) with PDF, XLSX and CSV export. Thin views over central.reporting.
"""

from flask import Blueprint

bp = Blueprint("regency", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static", url_prefix="/pusat/laporan")

from central.regency_reports import routes  # noqa: E402,F401
