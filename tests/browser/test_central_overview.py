"""Central's overview board and case map in a real Chromium against a real central server process.

Nothing may leave the machine: every request the pages make is checked to go to the appliance.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from tests.browser.conftest import login_page
from tests.central.conftest import node  # noqa: F401 - the browser tests' server runs this central node
from tests.central.test_overview import seed_case

pytestmark = pytest.mark.browser


def watch_hosts(page) -> list[str]:
    """Abort and record any request that does not go to the appliance (127.0.0.1), and any
    Content-Security-Policy violation the console reports."""
    foreign: list[str] = []
    page.on("console", lambda m: foreign.append(m.text) if "Content Security Policy" in m.text else None)

    def check(route):
        url = route.request.url
        if urlparse(url).hostname not in ("127.0.0.1", "localhost") and not url.startswith("data:"):
            foreign.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", check)
    return foreign


def test_overview_board_shows_cases_of_every_posko_breaches_and_refreshes(server, browser, shots):
    late = seed_case("posko-a", 30, itype=1, desa="Pematang Duku", kecamatan="Bengkalis")
    seed_case("posko-b", 3, itype=2, desa="Batu Panjang", kecamatan="Rupat", lat=1.752, lon=101.462,
              agencies=("POLRES",))
    page = login_page(browser, server, "pusat")
    foreign = watch_hosts(page)
    page.goto(server + "/pusat/")
    row = page.locator(f'tr[data-case="{late.case_no}"]')
    assert row.get_attribute("data-posko") == "posko-a"
    assert row.locator(".breach-flag").is_visible()
    assert row.locator('[data-step="confirm"][data-state="red"]').count() == 1
    assert int(page.locator('[data-figure="breaches"]').inner_text()) >= 1
    assert page.locator('[data-figure="open"]').inner_text() == "2"
    page.screenshot(path=str(shots / "central-overview.png"), full_page=True)
    # A case that reaches central later appears without a reload (htmx polling, no inline script).
    newer = seed_case("posko-b", 0.5, itype=1, desa="Tanjung Medang", kecamatan="Rupat Utara", lat=None)
    page.wait_for_selector(f'tr[data-case="{newer.case_no}"]', timeout=15000)
    assert page.locator('[data-figure="open"]').inner_text() == "3"
    assert foreign == []


def test_map_draws_case_markers_on_tiles_served_by_the_appliance(server, browser, shots):
    late = seed_case("posko-a", 30, lat=1.466, lon=102.11)
    seed_case("posko-b", 2, itype=2, lat=1.752, lon=101.462, agencies=("POLRES",))
    page = login_page(browser, server, "pusat")
    foreign = watch_hosts(page)
    tiles: list[tuple[int, str]] = []
    page.on("response", lambda r: tiles.append((r.status, r.headers.get("content-type", "")))
            if "/pusat/tiles/" in r.url else None)
    page.goto(server + "/pusat/peta")
    page.wait_for_selector('#case-map[data-markers="2"]', timeout=15000)
    assert page.evaluate("window.L && window.L.version") == "1.9.4"
    scripts = page.evaluate("Array.from(document.scripts, s => s.src)")
    assert any(s.startswith(server + "/pusat/static/overview/vendor/leaflet/leaflet.js") for s in scripts)
    deadline = time.monotonic() + 10
    while not any(s == 200 for s, _t in tiles) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.wait_for_load_state("networkidle")
    assert tiles and all(s == 200 and t == "image/png" for s, t in tiles), tiles
    assert page.locator("img.leaflet-tile-loaded").count() >= 4
    marker = page.locator(f'path.case-marker[data-case="{late.case_no}"]')
    assert "case-breached" in marker.get_attribute("class")
    assert page.locator(".place-label", has_text="Bengkalis").count() == 1
    page.screenshot(path=str(shots / "central-map.png"))
    marker.click(force=True)
    link = page.locator(".case-popup a.button")
    link.wait_for(timeout=5000)
    assert link.get_attribute("href") == f"/incidents/{late.id}"
    assert foreign == []
