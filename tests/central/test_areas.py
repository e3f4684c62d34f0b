"""Central's areas are wired into the app only on a central node, behind the central roles."""

from __future__ import annotations

import pytest

CENTRAL_PAGES = ("/pusat/", "/pusat/peta", "/pusat/laporan/", "/pusat/ekspor/")


@pytest.mark.parametrize("url", CENTRAL_PAGES)
def test_central_pages_open_for_central_staff(login, url):
    response = login("pusat").get(url)
    assert response.status_code == 200, url


@pytest.mark.parametrize("url", CENTRAL_PAGES)
def test_agency_dispatcher_may_not_open_central_pages(login, url):
    assert login("damkar").get(url).status_code == 403


def test_nav_links_to_the_central_areas(login):
    html = login("pusat").get("/archive").get_data(as_text=True)
    assert 'href="/pusat/peta"' in html and 'href="/pusat/laporan/"' in html


def test_central_staff_land_on_the_regency_overview(app):
    from tests.conftest import PASSWORD, Browserless

    client = Browserless(app.test_client())
    client.get("/login")
    response = client.post("/login", {"username": "pusat", "password": PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/pusat/")
