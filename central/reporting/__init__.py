"""Central's regency reports (issue 5): figures for a period, per posko and for the regency,
their charts (SVG) and their exports (PDF for the Bupati, XLSX, CSV).

    periods   month / quarter / year / custom dates in WIB, as UTC bounds
    dialect   the one engine-specific expression (hour of a timestamp), SQLite or PostgreSQL
    queries   portable GROUP BY counts; cases: per-case SOP and response timings
    model     the report as plain dataclasses; build: runs the queries into one RegencyReport
    tables    the report as named tables, shared by the exports
    charts    server-side SVG bar charts;  pdf, xlsx, csvfile: the exports

The blueprint central.regency_reports only parses the request and renders these.
"""

from central.reporting.build import build_report
from central.reporting.model import RegencyReport
from central.reporting.periods import ReportPeriod, parse_report_period

__all__ = ["RegencyReport", "ReportPeriod", "build_report", "parse_report_period"]
