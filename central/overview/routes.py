"""Central's live overview pages: the regency board (auto-refreshed rows), the map, its case
markers as GeoJSON and the offline map tiles. Thin views over central.overview.service and
central.tiles.mbtiles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import abort, current_app, jsonify, make_response, render_template, request, url_for

from central.overview import bp
from central.overview.service import build_overview, map_features
from central.tiles import mbtiles
from edge.enums import Role
from edge.web import roles_required

VIEW_ROLES = (Role.CENTRAL, Role.SUPERVISOR, Role.ADMIN)
PLACES = Path(__file__).resolve().parents[1] / "tiles" / "places.json"
TILE_MAX_AGE = 86400


def _data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


@bp.get("/")
@roles_required(*VIEW_ROLES)
def board():
    return render_template("overview/board.html", ov=build_overview())


@bp.get("/baris")
@roles_required(*VIEW_ROLES)
def board_rows():
    return render_template("overview/_rows.html", ov=build_overview())


@bp.get("/peta")
@roles_required(*VIEW_ROLES)
def map():  # noqa: A001 - the endpoint name the navigation links
    path = mbtiles.active_path(_data_dir())
    info = None
    if path is not None:
        try:
            info = mbtiles.inspect(path)
        except mbtiles.TilesError:
            current_app.logger.exception("tile set %s is unusable", path)
    places = json.loads(PLACES.read_text(encoding="utf-8"))["places"] if PLACES.exists() else []
    tile_url = url_for("overview.tile", z=0, x=0, y=0).replace("/0/0/0.png", "/{z}/{x}/{y}.png")
    return render_template("overview/map.html", ov=build_overview(), tiles=info, places=places, tile_url=tile_url)


@bp.get("/peta/kasus.json")
@roles_required(*VIEW_ROLES)
def map_cases():
    ov = build_overview()
    type_name = current_app.jinja_env.globals["type_name"]
    features = map_features(ov, type_name, lambda incident_id: url_for("main.incident", incident_id=incident_id))
    return jsonify({"type": "FeatureCollection", "features": features,
                    "open_cases": len(ov.cases), "breaches": ov.breach_count})


@bp.get("/tiles/<int:z>/<int:x>/<int:y>.png")
@roles_required(*VIEW_ROLES)
def tile(z: int, x: int, y: int):
    path = mbtiles.active_path(_data_dir())
    data = mbtiles.read_tile(path, z, x, y) if path is not None else None
    if data is None:
        abort(404)
    response = make_response(data)
    response.headers["Content-Type"] = mbtiles.media_type(data)
    response.headers["Cache-Control"] = f"private, max-age={TILE_MAX_AGE}"
    response.set_etag(hashlib.sha1(data, usedforsecurity=False).hexdigest())
    return response.make_conditional(request)
