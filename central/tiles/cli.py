"""The `siaga112 tiles` commands: load a bigger offline map tile set, show the one in use.

Why it exists: the shipped tile set covers the Bengkalis area at low zooms only; a regency
that wants street-level tiles or another area renders or obtains an MBTiles file elsewhere and
loads it here (validated, copied into the node's data folder; the map then prefers it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from central.tiles import mbtiles

DATA_DIR = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("SIAGA112_DATA_DIR", "./data"), show_default="./data or $SIAGA112_DATA_DIR",
    help="Folder holding this node's database (the tile set is copied to <data-dir>/tiles/map.mbtiles).",
)


def _describe(info: mbtiles.TileSetInfo, origin: str) -> None:
    meta = info.metadata
    click.echo(f"{origin}: {info.path}")
    click.echo(f"  name: {meta.get('name', '-')}")
    click.echo(f"  tiles: {info.tiles}, zoom {info.min_zoom}-{info.max_zoom}, format {meta.get('format', 'png')}, "
               f"{info.size_bytes / 1e6:.2f} MB")
    click.echo(f"  bounds: {meta.get('bounds', '-')}")
    click.echo(f"  attribution: {meta.get('attribution', '-')}")


def _fail(exc: mbtiles.TilesError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def tiles() -> None:
    """Offline map tiles (MBTiles) for central's map."""


@tiles.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DATA_DIR
def tiles_load(file: Path, data_dir: Path) -> None:
    """Check that FILE is an MBTiles tile set and make it this node's map (replaces an earlier one)."""
    from edge.db import database_path

    if not database_path(data_dir).exists():
        click.echo(f"error: no node in {data_dir}; run 'siaga112 init' first", err=True)
        sys.exit(2)
    try:
        info = mbtiles.load(file, data_dir)
    except mbtiles.TilesError as exc:
        _fail(exc)
    _describe(info, "Loaded")


@tiles.command("info")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@DATA_DIR
def tiles_info(file: Path | None, data_dir: Path) -> None:
    """Describe FILE, or the tile set this node's map uses (the loaded one, else the shipped one)."""
    if file is not None:
        origin, path = "File", file
    else:
        path = mbtiles.active_path(data_dir)
        if path is None:
            click.echo("error: no tile set: none loaded and the shipped one is missing", err=True)
            sys.exit(2)
        origin = "Loaded" if path == mbtiles.loaded_path(data_dir) else "Shipped"
    try:
        _describe(mbtiles.inspect(path), origin)
    except mbtiles.TilesError as exc:
        _fail(exc)
