"""`siaga112 report build|synthetic`: the regency report as a file, and a synthetic year to try it on.

Parses options and calls central.reporting / central.synthetic; nothing else. Whoever runs it
has the node's shell (an administrator), so the report's numbers are not masked.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

FORMATS = ("pdf", "xlsx", "csv")
DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                        default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"),
                        show_default="./data or $SIAGA112_DATA_DIR", help="Folder holding this node's database.")


@click.group("report")
def report_group() -> None:
    """Regency reports (central): monthly complaint report, quarterly Perbup 48/2025 evaluation."""


@report_group.command("build")
@click.option("--period", type=click.Choice(["month", "quarter", "year", "custom"]), default="month",
              show_default=True, help="Kind of period.")
@click.option("--month", default="", help="YYYY-MM (period month; default: the current month).")
@click.option("--quarter", default="", help="YYYY-Qn (period quarter).")
@click.option("--year", default="", help="YYYY (period year).")
@click.option("--from", "first", default="", help="First day, YYYY-MM-DD WIB (period custom).")
@click.option("--to", "last", default="", help="Last day, YYYY-MM-DD WIB, included (period custom).")
@click.option("--posko", default="", help="Only this posko's records (its node id); default the whole regency.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True)
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: laporan-112-<period>-<posko or kabupaten>.<format>).")
@DATA_DIR
def build(period: str, month: str, quarter: str, year: str, first: str, last: str, posko: str, fmt: str,
          lang: str, out: Path | None, data_dir: Path) -> None:
    """Write the report of a period as PDF, XLSX or CSV."""
    from central.reporting import build_report, parse_report_period
    from central.reporting.csvfile import report_csv
    from central.reporting.pdf import report_pdf
    from central.reporting.queries import poskos
    from central.reporting.xlsx import report_xlsx
    from edge.cli_errors import fail
    from edge.services.errors import ServiceError, ValidationError
    from edge.services.node import open_node

    try:
        open_node(data_dir)
        chosen = parse_report_period({"period": period, "month": month, "quarter": quarter, "year": year,
                                      "from": first, "to": last})
        if posko and posko not in poskos():
            raise ValidationError({"posko": "Posko tidak dikenal"})
        report = build_report(chosen, posko or None)
    except ServiceError as exc:
        fail(exc)
    render = {"pdf": report_pdf, "xlsx": report_xlsx, "csv": report_csv}[fmt]
    body = render(report, lang)
    target = out or Path(f"laporan-112-{chosen.slug}-{posko or 'kabupaten'}.{fmt}")
    target.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    click.echo(f"{chosen.label(lang)}: {report.calls_total} calls, {report.incidents_total} cases; written to {target}")


@report_group.command("synthetic")
@click.option("--seed", type=int, default=112, show_default=True, help="Same seed, same rows.")
@click.option("--calls", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2025-01-01", show_default=True,
              help="First WIB day of the data.")
@click.option("--days", type=click.IntRange(1, 3660), default=365, show_default=True)
@click.option("--events", is_flag=True, help="Also write each posko's hash-chained timeline (slower).")
@DATA_DIR
def synthetic(seed: int, calls: int, start, days: int, events: bool, data_dir: Path) -> None:
    """Load Bengkalis-like synthetic records (calls, cases, dispatches of four posko) into a central node,
    to try or time the reports. Never on a node with real records: the rows are made up."""
    from central.synthetic import generate
    from edge.services import setting
    from edge.services.errors import ServiceError
    from edge.services.node import open_node

    try:
        open_node(data_dir)
    except ServiceError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    if setting("node_role") != "central":
        click.echo("error: node_role: synthetic data goes into a central node only", err=True)
        sys.exit(2)
    result = generate(seed=seed, start=date(start.year, start.month, start.day), days=days, calls=calls,
                      events=events)
    click.echo(f"{result.calls} calls, {result.incidents} cases, {result.dispatches} dispatches, "
               f"{result.events} events written in {result.seconds:.1f} s ({result.open_incidents} cases open)")
