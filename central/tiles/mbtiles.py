"""Read map tiles from an MBTiles file, the tile set central's map is drawn on.

Why it exists: central has no internet, so the map's base layer is a SQLite file of PNG tiles
(MBTiles 1.3: table tiles(zoom_level, tile_column, tile_row, tile_data), rows in TMS order,
i.e. counted from the south) served by the appliance itself. The repository ships a small
set for the Bengkalis area (bengkalis.mbtiles, made by build.py); `siaga112 tiles load FILE`
copies a bigger one into the node's data folder, and that one is preferred when present.
Only the standard library is used: the runtime never needs GIS packages.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "bengkalis.mbtiles"
LOADED_NAME = "tiles/map.mbtiles"  # inside the node's data folder
SQLITE_MAGIC = b"SQLite format 3\x00"
TILE_COLUMNS = {"zoom_level", "tile_column", "tile_row", "tile_data"}
FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


class TilesError(Exception):
    """A file is not a usable MBTiles tile set (the message says why)."""


@dataclass(frozen=True)
class TileSetInfo:
    path: Path
    metadata: dict[str, str]
    tiles: int
    min_zoom: int | None
    max_zoom: int | None
    size_bytes: int

    @property
    def media_type(self) -> str:
        return FORMATS.get(self.metadata.get("format", "png").lower(), "image/png")

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        try:
            west, south, east, north = (float(v) for v in self.metadata["bounds"].split(","))
        except (KeyError, ValueError):
            return None
        return west, south, east, north

    @property
    def center(self) -> tuple[float, float, int] | None:
        """(lon, lat, zoom) of the initial view, from the metadata's `center`."""
        try:
            lon, lat, zoom = self.metadata["center"].split(",")
            return float(lon), float(lat), int(float(zoom))
        except (KeyError, ValueError):
            return None


def _connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (the file is never written by the app)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False)


def inspect(path: Path) -> TileSetInfo:
    """Check that `path` is an MBTiles file with at least one tile; TilesError says what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise TilesError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if magic != SQLITE_MAGIC:
        raise TilesError(f"{path} is not an MBTiles file (not a SQLite database)")
    try:
        with contextlib.closing(_connect(path)) as con:
            columns = {row[1] for row in con.execute("PRAGMA table_info(tiles)")}
            if not TILE_COLUMNS <= columns:
                raise TilesError(f"{path} is not an MBTiles file (no table tiles(zoom_level, tile_column, "
                                 "tile_row, tile_data))")
            metadata: dict[str, str] = {}
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").fetchone():
                metadata = {str(k): str(v) for k, v in con.execute("SELECT name, value FROM metadata")}
            count, low, high = con.execute("SELECT count(*), min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    except sqlite3.DatabaseError as exc:
        raise TilesError(f"{path} is not a readable MBTiles file: {exc}") from exc
    if not count:
        raise TilesError(f"{path} holds no tiles")
    fmt = metadata.get("format", "png").lower()
    if fmt not in FORMATS:
        raise TilesError(f"{path} has tiles in format {fmt!r}; the map shows png, jpg or webp tiles")
    return TileSetInfo(path, metadata, count, low, high, path.stat().st_size)


def loaded_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOADED_NAME


def active_path(data_dir: Path) -> Path | None:
    """The tile set the node serves: the loaded one if any, else the shipped one (None if neither exists)."""
    loaded = loaded_path(data_dir)
    if loaded.exists():
        return loaded
    return SHIPPED if SHIPPED.exists() else None


def load(source: Path, data_dir: Path) -> TileSetInfo:
    """Validate `source` and copy it into the node's data folder (replacing any earlier one) atomically."""
    inspect(source)
    target = loaded_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        shutil.copyfile(source, tmp)
        info = inspect(tmp)  # what was copied is what is checked
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return TileSetInfo(target, info.metadata, info.tiles, info.min_zoom, info.max_zoom, info.size_bytes)


def read_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ address z/x/y (y counted from the north, as Leaflet asks), or None."""
    if z < 0 or z > 30 or not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return None
    tms_row = (2 ** z - 1) - y
    with contextlib.closing(_connect(path)) as con:
        row = con.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                          (z, x, tms_row)).fetchone()
    return bytes(row[0]) if row else None


def media_type(data: bytes) -> str:
    """The image type of a tile, from its first bytes (a loaded set may hold JPEG or WebP tiles)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"
