"""`siaga112 export FORMAT`: a period's closed cases to a file, the same files as the export page.

Parses the options and calls central.interchange.bundle; nothing else. Whoever runs it has the
node's shell (an administrator), so the export is full unless --pseudonymise is given.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from central.interchange import bundle


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(list(bundle.FORMATS)))
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day (WIB, YYYY-MM-DD): cases closed / calls rung from this day.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day (WIB, YYYY-MM-DD), included.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: siaga112-FROM_TO.<format extension> in the current folder).")
@click.option("--pseudonymise", is_flag=True,
              help="Caller numbers as keyed hashes (HMAC with this node's secret), names dropped.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"),
              show_default="./data or $SIAGA112_DATA_DIR", help="Folder holding this node's database and secrets.")
def export(fmt: str, first: datetime, last: datetime, out: Path | None, pseudonymise: bool, data_dir: Path) -> None:
    """Export closed cases as CAP 1.2 (zip of XML), EIDO JSON (array or lines), per-case records
    (JSON lines) or the period's calls (CSV)."""
    from edge.cli_errors import fail
    from edge.services.errors import ServiceError
    from edge.services.node import open_node
    from edge.services.privacy import CallerView, Scrubber

    try:
        open_node(data_dir)
        period = bundle.parse_period({"from": first.date().isoformat(), "to": last.date().isoformat()})
        scrubber = Scrubber(CallerView.PSEUDONYMISED if pseudonymise else CallerView.FULL)
        target = out or Path(bundle.filename(fmt, period))
        with target.open("wb") as fh:
            count = bundle.write(fmt, period, scrubber, fh)
    except ServiceError as exc:
        fail(exc)
    what = "calls" if fmt == "csv" else "closed cases"
    click.echo(f"{count} {what} written to {target}")
