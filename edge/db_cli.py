"""`siaga112 db`: the node's database itself (today: moving a SQLite central to PostgreSQL)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.group("db")
def db_group() -> None:
    """The node's database."""


@db_group.command("copy")
@click.option("--to", "url", required=True, help="Empty target database, e.g. postgresql://siaga112@db:5432/siaga112.")
@click.option("--no-switch", is_flag=True, help="Copy and check only; the node keeps using its SQLite file.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"),
              show_default="./data or $SIAGA112_DATA_DIR",
              help="Folder holding this node's database and secrets.")
def db_copy(url: str, no_switch: bool, data_dir: Path) -> None:
    """Copy a central's SQLite database into an empty PostgreSQL database, check the copy
    (row counts, content hashes, audit chain) and switch the node over to it."""
    from edge.db import DatabaseUrlError
    from edge.dbcopy import CopyError, copy_node

    try:
        result = copy_node(data_dir, url, switch=not no_switch)
    except (CopyError, DatabaseUrlError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"Copied {sum(result.rows.values())} rows in {len(result.rows)} tables; "
               f"{result.events_checked} events checked, 0 problems")
    if result.backup:
        click.echo(f"The node now uses the URL in {data_dir / 'database_url'}; SQLite kept as {result.backup}")
    else:
        click.echo("Not switched (--no-switch): the node still uses its SQLite file")
