"""Logins, roles, CSRF, session timeout and login throttling through the real app."""

from __future__ import annotations

from edge.models import Call, LoginAttempt, User
from edge.services.users import MAX_FAILURES
from tests.conftest import PASSWORD, Browserless


def test_passwords_are_hashed_not_stored(node):
    user = User.get(User.username == "operator")
    assert PASSWORD not in user.password_hash and user.password_hash.startswith("scrypt:")


def test_post_without_csrf_token_is_refused_and_writes_nothing(app, login):
    op = login("operator")
    response = op.client.post("/calls", data={"caller_number": "0812"})
    assert response.status_code == 400 and "Token keamanan" in response.get_data(as_text=True)
    assert Call.select().count() == 0
    forged = op.client.post("/calls", data={"caller_number": "0812", "csrf_token": "forged"})
    assert forged.status_code == 400 and Call.select().count() == 0


def test_login_required_and_wrong_password(app):
    client = app.test_client()
    assert client.get("/board").status_code == 302
    b = Browserless(client)
    b.get("/login")
    bad = b.post("/login", {"username": "operator", "password": "wrong-password"})
    assert bad.status_code == 401 and "salah" in bad.get_data(as_text=True)
    assert client.get("/board").status_code == 302


def test_login_is_throttled_after_repeated_failures(app):
    b = Browserless(app.test_client())
    b.get("/login")
    for _ in range(MAX_FAILURES):
        assert b.post("/login", {"username": "operator", "password": "nope-nope-nope"}).status_code == 401
    # Even the right password is refused while throttled.
    refused = b.post("/login", {"username": "operator", "password": PASSWORD})
    assert refused.status_code == 429
    assert LoginAttempt.select().where(LoginAttempt.ok == True).count() == 0  # noqa: E712


def test_session_times_out_when_idle(app, login):
    op = login("operator")
    assert op.get("/board").status_code == 200
    with op.client.session_transaction() as session:
        session["seen"] -= app.config["SESSION_IDLE_MINUTES"] * 60 + 1
    assert op.get("/board").status_code == 302


def test_polling_does_not_keep_a_session_alive(app, login):
    op = login("operator")
    with op.client.session_transaction() as session:
        session["seen"] -= 60
        before = session["seen"]
    op.client.get("/board/rows", headers={"X-Siaga-Poll": "1"})
    with op.client.session_transaction() as session:
        assert session["seen"] == before


def test_roles_are_enforced(login):
    pusat = login("pusat")
    assert pusat.get("/board").status_code == 200  # central may watch
    assert pusat.post("/calls", {"caller_number": "0812"}).status_code == 403
    assert Call.select().count() == 0
    damkar = login("damkar")
    assert damkar.get("/board").status_code == 403
    assert damkar.post("/calls", {}).status_code == 403


def test_open_redirect_after_login_is_ignored(app):
    b = Browserless(app.test_client())
    b.get("/login")
    response = b.post("/login?next=//evil.example/x", {"username": "operator", "password": PASSWORD})
    assert response.location == "/board"


def test_security_headers(app):
    response = app.test_client().get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_agency_station_stays_logged_in_for_a_shift_but_not_forever(app, login):
    damkar = login("damkar")
    with damkar.client.session_transaction() as session:
        session["seen"] -= 2 * 60 * 60  # two hours unattended: a call-taker would be logged out
    assert damkar.get("/agency/inbox").status_code == 200
    with damkar.client.session_transaction() as session:
        session["seen"] -= app.config["SESSION_IDLE_MINUTES_AGENCY"] * 60 + 1
    assert damkar.get("/agency/inbox").status_code == 302


def test_deactivated_user_loses_the_session(login):
    from edge.models import User

    op = login("operator")
    User.update(active=False).where(User.username == "operator").execute()
    assert op.get("/board").status_code == 302


def test_one_time_password_must_be_changed_before_any_work(node, app):
    b = Browserless(app.test_client())
    b.get("/login")
    assert b.post("/login", {"username": "admin", "password": node.admin_password}).location == "/password"
    assert b.get("/board").location == "/password"
    assert b.get("/admin/users").location == "/password"
    page = b.get("/password")
    assert page.status_code == 200
    changed = b.post("/password", {"current_password": node.admin_password, "new_password": "a-new-password-1",
                                   "confirm_password": "a-new-password-1"})
    assert changed.status_code == 302
    assert b.get("/board").status_code == 200
    assert not User.get(User.username == "admin").must_change_password


def test_a_posko_has_no_central_pages(login):
    client = login("pusat")
    assert client.get("/pusat/").status_code == 404
    assert 'href="/pusat/' not in client.get("/archive").get_data(as_text=True)
