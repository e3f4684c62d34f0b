"""Offline map tiles: the MBTiles tile endpoint (TMS rows, 404, caching, loaded file preferred),
`siaga112 tiles load|info`, and the tile set shipped for the Bengkalis area."""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from central.tiles import mbtiles
from edge.cli import main as cli

BENGKALIS_TOWN = (1.466, 102.110)  # lat, lon


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(out, "PNG")
    return out.getvalue()


def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], metadata: bool = True) -> Path:
    """An MBTiles file with `tiles` keyed by XYZ address (z, x, y), stored in TMS rows."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    if metadata:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test set"), ("format", "png"),
                                                               ("bounds", "100,0,103,3")])
    for (z, x, y), data in tiles.items():
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2 ** z - 1 - y, data))
    con.commit()
    con.close()
    return path


def xyz(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, int((lon + 180) / 360 * n), y


def test_tile_endpoint_flips_tms_rows_and_answers_404_for_missing_tiles(node, login, tmp_path):
    red = png((255, 0, 0))
    mbtiles.load(make_mbtiles(tmp_path / "t.mbtiles", {(3, 2, 6): red}), node.data_dir)
    client = login("pusat")
    response = client.get("/pusat/tiles/3/2/6.png")
    assert response.status_code == 200 and response.data == red and response.mimetype == "image/png"
    assert client.get("/pusat/tiles/3/2/1.png").status_code == 404  # the TMS row itself is not the XYZ row
    assert client.get("/pusat/tiles/4/2/6.png").status_code == 404
    assert client.get("/pusat/tiles/3/9/6.png").status_code == 404  # outside the zoom's grid


def test_tiles_are_cacheable_and_revalidated(node, login, tmp_path):
    mbtiles.load(make_mbtiles(tmp_path / "t.mbtiles", {(5, 1, 1): png((0, 0, 255))}), node.data_dir)
    client = login("pusat")
    first = client.get("/pusat/tiles/5/1/1.png")
    assert "max-age=86400" in first.headers["Cache-Control"] and first.headers["ETag"]
    again = client.get("/pusat/tiles/5/1/1.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_loaded_tile_set_is_preferred_over_the_shipped_one(node, login, tmp_path):
    address = xyz(*BENGKALIS_TOWN, 9)
    url = "/pusat/tiles/{}/{}/{}.png".format(*address)
    client = login("pusat")
    shipped = client.get(url)
    assert shipped.status_code == 200 and shipped.data == mbtiles.read_tile(mbtiles.SHIPPED, *address)
    green = png((0, 255, 0))
    mbtiles.load(make_mbtiles(tmp_path / "big.mbtiles", {address: green}), node.data_dir)
    assert client.get(url).data == green
    assert mbtiles.active_path(node.data_dir) == node.data_dir / "tiles" / "map.mbtiles"


def test_tiles_need_a_central_role(login):
    assert login("damkar").get("/pusat/tiles/7/99/63.png").status_code == 403


@pytest.mark.parametrize("kind", ["text", "sqlite-without-tiles", "no-tiles"])
def test_tiles_load_rejects_what_is_not_an_mbtiles_tile_set(node, tmp_path, kind):
    bad = tmp_path / "bad.mbtiles"
    if kind == "text":
        bad.write_text("this is not a map\n")
    elif kind == "sqlite-without-tiles":
        with sqlite3.connect(bad) as con:
            con.execute("CREATE TABLE other (a)")
    else:
        make_mbtiles(bad, {})
    result = CliRunner().invoke(cli, ["tiles", "load", str(bad), "--data-dir", str(node.data_dir)])
    assert result.exit_code == 2 and "error:" in result.output
    assert not (node.data_dir / "tiles" / "map.mbtiles").exists()


def test_tiles_load_and_info(node, tmp_path):
    source = make_mbtiles(tmp_path / "big.mbtiles", {(8, 199, 126): png((1, 2, 3)), (9, 398, 252): png((4, 5, 6))})
    runner = CliRunner()
    before = runner.invoke(cli, ["tiles", "info", "--data-dir", str(node.data_dir)])
    assert before.exit_code == 0 and before.output.startswith("Shipped:")
    loaded = runner.invoke(cli, ["tiles", "load", str(source), "--data-dir", str(node.data_dir)])
    assert loaded.exit_code == 0, loaded.output
    assert "tiles: 2, zoom 8-9" in loaded.output
    after = runner.invoke(cli, ["tiles", "info", "--data-dir", str(node.data_dir)])
    assert after.output.startswith("Loaded:") and "test set" in after.output


def test_tiles_load_needs_an_initialised_node(tmp_path):
    source = make_mbtiles(tmp_path / "t.mbtiles", {(1, 0, 0): png((0, 0, 0))})
    result = CliRunner().invoke(cli, ["tiles", "load", str(source), "--data-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "siaga112 init" in result.output


def test_shipped_tile_set_covers_bengkalis_with_land_and_sea():
    info = mbtiles.inspect(mbtiles.SHIPPED)
    assert info.size_bytes < 5_000_000 and info.min_zoom <= 7 and info.max_zoom >= 11
    west, south, east, north = info.bounds
    assert west <= 100.9 and south <= 0.9 and east >= 102.9 and north >= 2.3
    for z in range(info.min_zoom, info.max_zoom + 1):  # every zoom has the corners of the regency
        for lat, lon in ((0.95, 100.95), (2.25, 102.85), BENGKALIS_TOWN):
            assert mbtiles.read_tile(mbtiles.SHIPPED, *xyz(lat, lon, z)) is not None, (z, lat, lon)
    # Bengkalis town is on the island's south coast: its z11 tile holds both land and sea.
    tile = Image.open(io.BytesIO(mbtiles.read_tile(mbtiles.SHIPPED, *xyz(*BENGKALIS_TOWN, 11)))).convert("RGB")
    colours = {c for _n, c in tile.getcolors(65536)}
    assert (242, 239, 233) in colours and (170, 211, 223) in colours
