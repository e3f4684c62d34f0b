"""The analyst role reads (archive, cases, reports, exports) and never writes: every POST,
PATCH, PUT or DELETE route of a central node (where every blueprint is registered), in the UI
and in the API, answers 403 to an analyst."""

from __future__ import annotations

import re

import pytest

from edge.enums import Role
from edge.services.admin import add_user
from edge.services.errors import ValidationError
from edge.services.users import create_user, get_user, issue_token, set_password
from tests.central.conftest import node  # noqa: F401  (a central node: every blueprint registered)
from tests.conftest import PASSWORD, Browserless

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The user's own session and account: logging in and out, the language, their own password.
OWN_SESSION = {"auth.login", "auth.logout", "auth.set_lang", "auth.password"}
PLACEHOLDER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


def _value(match: re.Match) -> str:
    """A value every converter accepts: 1 (int, string, path) or the first choice of any(...)."""
    converter = match.group(1) or ""
    if converter.startswith("any("):
        return re.findall(r"[\w.-]+", converter[4:])[0]
    return "1"


@pytest.fixture(autouse=True)
def analyst(node):  # noqa: F811
    create_user("analis", "analyst", PASSWORD, "Analis Data")


def _write_routes(app) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            url = PLACEHOLDER.sub(_value, rule.rule)
            out.append((rule.endpoint, method, url))
    return out


def test_analyst_gets_403_on_every_write_route(app, login):
    routes = _write_routes(app)
    ui = [(e, m, u) for e, m, u in routes if not e.startswith("api.") and e not in OWN_SESSION]
    api = [(e, m, u) for e, m, u in routes if e.startswith("api.")]
    assert len(ui) >= 15 and len(api) >= 8  # the walk really covers the app
    web = login("analis")
    for endpoint, method, url in ui:
        response = web.post(url, {}) if method == "POST" else web.client.open(url, method=method)
        assert response.status_code == 403, (endpoint, method, url, response.status_code)
    token = issue_token(get_user("analis"))
    client = app.test_client()
    for endpoint, method, url in api:
        response = client.open(url, method=method, json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (endpoint, method, url, response.status_code)


def test_analyst_reads_archive_reports_exports(app, login):
    web = login("analis")
    for url in ("/archive", "/reports/shift", "/pusat/ekspor/"):
        assert web.get(url).status_code == 200, url
    assert web.get("/board").status_code == 403
    home = web.client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/archive")


def test_analyst_is_a_role_users_can_be_given(app):
    assert Role("analyst") is Role.ANALYST
    user = get_user("analis")
    assert user.role == "analyst" and user.agency is None
    result = add_user(get_user("admin"), {"username": "analis2", "role": "analyst", "full_name": "Dua"})
    assert result.user.role == "analyst"
    with pytest.raises(ValidationError):
        create_user("analis3", "analyst", PASSWORD, agency_code="DAMKAR")


def test_admin_page_offers_the_analyst_role(app):
    set_password(get_user("admin"), PASSWORD)
    b = Browserless(app.test_client())
    b.get("/login")
    b.post("/login", {"username": "admin", "password": PASSWORD})
    html = b.get("/admin/users").get_data(as_text=True)
    assert '<option value="analyst"' in html
