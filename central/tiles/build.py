"""Build the offline base map: land and sea of the Bengkalis area rendered into an MBTiles file.

Why it exists: central's map (/pusat/peta) must work with no internet, so the appliance
serves its own tiles (central/tiles/mbtiles.py). This script makes the small tile set that
ships in the repository (central/tiles/bengkalis.mbtiles) reproducibly; it is a BUILD-TIME
tool, never imported by the app. See docs/map-tiles.md.

How: for every Web Mercator tile of the chosen zooms that touches the bounding box, each
pixel is sampled SxS times against a land mask (the `roaring-landmask` package: coastline
polygons from OpenStreetMap or GSHHG, queried point by point), the land share of a pixel
blends sea and land colours (anti-aliased coast), and Pillow writes a small palette PNG.
Tiles are stored in TMS row order, as the MBTiles 1.3 specification asks.

    pip install roaring-landmask numpy pillow       # build-time only (about 100 MB)
    python central/tiles/build.py --out central/tiles/bengkalis.mbtiles
"""

from __future__ import annotations

import argparse
import io
import math
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

DEFAULT_BBOX = (100.9, 0.9, 102.9, 2.3)  # west, south, east, north: Kabupaten Bengkalis and its islands
# At low zooms a screen shows far more than the regency: cover the surroundings too (Dumai, Siak,
# Meranti, the Malaysian coast), so the map has no empty margins.
DEFAULT_OUTER_BBOX = (99.8, 0.0, 104.0, 3.2)
DEFAULT_OUTER_MAX_ZOOM = 11
DEFAULT_ZOOMS = (7, 13)
TILE = 256
SEA = (170, 211, 223)
LAND = (242, 239, 233)
COAST = (120, 150, 165)
SOURCES = {
    "osm": "© OpenStreetMap contributors (land polygons, ODbL)",
    "gshhg": "GSHHG coastlines (Wessel & Smith, LGPL)",
}


def lon_of(gx, n: int):
    """Longitude of global pixel column gx (float or numpy array) at a zoom with n tiles a side."""
    return gx / (TILE * n) * 360.0 - 180.0


def lat_of(gy, n: int):
    import numpy as np

    return np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * gy / (TILE * n)))))


def tile_range(bbox: tuple[float, float, float, float], zoom: int) -> tuple[range, range]:
    """XYZ columns and rows of the tiles that touch bbox at `zoom`."""
    west, south, east, north = bbox
    n = 2 ** zoom

    def col(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

    def row(lat: float) -> int:
        r = math.radians(lat)
        return min(n - 1, max(0, int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)))

    return range(col(west), col(east) + 1), range(row(north), row(south) + 1)


def render_tile(mask, zoom: int, x: int, y: int, samples: int) -> bytes:
    """One 256x256 PNG: sea and land blended by each pixel's land share, a darker coast edge."""
    import numpy as np
    from PIL import Image

    n = 2 ** zoom
    offsets = (np.arange(TILE * samples) + 0.5) / samples
    gx = x * TILE + offsets
    gy = y * TILE + offsets
    lons, lats = np.meshgrid(lon_of(gx, n), lat_of(gy, n))
    land = mask.contains_many(lons.ravel(), lats.ravel()).reshape(lats.shape).astype(np.float32)
    share = land.reshape(TILE, samples, TILE, samples).mean(axis=(1, 3))[..., None]
    sea, ground, coast = (np.array(c, dtype=np.float32) for c in (SEA, LAND, COAST))
    rgb = sea * (1 - share) + ground * share
    edge = (share > 0.02) & (share < 0.98)
    rgb = np.where(edge, rgb * 0.35 + coast * 0.65, rgb)
    image = Image.fromarray(rgb.astype(np.uint8), "RGB").quantize(colors=16, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def tiles(bbox: tuple[float, float, float, float], zooms: range, outer: tuple[float, float, float, float],
          outer_max_zoom: int) -> Iterator[tuple[int, int, int]]:
    """Every tile to render: the outer box up to outer_max_zoom, the regency's box above it."""
    for z in zooms:
        cols, rows = tile_range(outer if z <= outer_max_zoom else bbox, z)
        for x in cols:
            for y in rows:
                yield z, x, y


def write_mbtiles(path: Path, metadata: dict[str, str], rendered: Iterator[tuple[int, int, int, bytes]]) -> int:
    """Write a fresh MBTiles file (metadata + tiles, TMS rows); returns the number of tiles."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
    )
    con.executemany("INSERT INTO metadata VALUES (?, ?)", sorted(metadata.items()))
    count = 0
    for z, x, y, data in rendered:
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (2 ** z - 1) - y, data))
        count += 1
    con.commit()
    con.execute("VACUUM")
    con.close()
    tmp.replace(path)
    return count


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=here / "bengkalis.mbtiles", help="MBTiles file to write")
    parser.add_argument("--bbox", type=float, nargs=4, default=DEFAULT_BBOX, metavar=("W", "S", "E", "N"),
                        help="area in degrees (default: Kabupaten Bengkalis)")
    parser.add_argument("--outer-bbox", type=float, nargs=4, default=DEFAULT_OUTER_BBOX, metavar=("W", "S", "E", "N"),
                        help="wider area rendered at zooms up to --outer-max-zoom (default: the surroundings)")
    parser.add_argument("--outer-max-zoom", type=int, default=DEFAULT_OUTER_MAX_ZOOM)
    parser.add_argument("--min-zoom", type=int, default=DEFAULT_ZOOMS[0])
    parser.add_argument("--max-zoom", type=int, default=DEFAULT_ZOOMS[1])
    parser.add_argument("--samples", type=int, default=2, help="samples per pixel side (anti-aliasing)")
    parser.add_argument("--source", choices=sorted(SOURCES), default="osm", help="coastline data")
    parser.add_argument("--name", default="Bengkalis (offline)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import roaring_landmask
    except ImportError:
        print("error: the builder needs roaring-landmask, numpy and pillow: "
              "pip install roaring-landmask numpy pillow", file=sys.stderr)
        return 2
    provider = {"osm": roaring_landmask.LandmaskProvider.Osm, "gshhg": roaring_landmask.LandmaskProvider.Gshhg}
    mask = roaring_landmask.RoaringLandmask.new_with_provider(provider[args.source])
    west, south, east, north = args.bbox
    outer = [min(args.outer_bbox[0], west), min(args.outer_bbox[1], south),
             max(args.outer_bbox[2], east), max(args.outer_bbox[3], north)]
    zooms = range(args.min_zoom, args.max_zoom + 1)
    metadata = {
        "name": args.name, "format": "png", "type": "baselayer", "version": "1",
        "description": "Land and sea of the Bengkalis area, rendered by central/tiles/build.py",
        "attribution": SOURCES[args.source],
        # bounds: where tiles are (the outer box when it is rendered); center: the regency's middle.
        "bounds": ",".join(str(v) for v in (outer if args.outer_max_zoom >= args.min_zoom else args.bbox)),
        "center": f"{(west + east) / 2:.4f},{(south + north) / 2:.4f},{args.min_zoom + 2}",
        "minzoom": str(args.min_zoom), "maxzoom": str(args.max_zoom),
    }
    started = time.monotonic()

    def rendered() -> Iterator[tuple[int, int, int, bytes]]:
        for z, x, y in tiles(args.bbox, zooms, tuple(outer), args.outer_max_zoom):
            yield z, x, y, render_tile(mask, z, x, y, args.samples)

    count = write_mbtiles(args.out, metadata, rendered())
    print(f"{count} tiles, zoom {args.min_zoom}-{args.max_zoom}, {args.out.stat().st_size / 1e6:.2f} MB "
          f"in {time.monotonic() - started:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
