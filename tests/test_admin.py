"""Administration through the real app: users (add, deactivate, reset) and the routing profile."""

from __future__ import annotations

import json
import re

import pytest

from edge.i18n import translate
from edge.models import Event, RoutingProfile, User
from edge.services.profiles import active_profile
from edge.services.users import get_user, set_password
from tests.conftest import PASSWORD, Browserless

ADMIN_PASSWORD = "admin-password-99"


@pytest.fixture
def admin(node, login) -> Browserless:
    # The node's first admin must change the one-time password from `init`; do it as the admin would.
    set_password(get_user("admin"), ADMIN_PASSWORD)
    return login("admin", ADMIN_PASSWORD)


def _events(kind: str) -> list[Event]:
    return list(Event.select().where(Event.kind == kind).order_by(Event.seq))


def _one_time_password(page: str) -> str:
    match = re.search(r'id="one-time-password">([^<]+)<', page)
    assert match, "no one-time password on the page"
    return match.group(1)


def _try_login(app, username: str, password: str):
    b = Browserless(app.test_client())
    b.get("/login")
    return b, b.post("/login", {"username": username, "password": password})


@pytest.mark.parametrize("username", ["operator", "supervisor", "damkar", "pusat"])
def test_non_admin_gets_403_on_admin_pages(login, username):
    b = login(username)
    assert b.get("/admin/users").status_code == 403
    assert b.get("/admin/profile").status_code == 403
    b.get("/archive")  # a page with a CSRF token
    assert b.post("/admin/users", {"username": "mallory", "role": "admin"}).status_code == 403
    assert b.post("/admin/users/admin/active", {"active": "0"}).status_code == 403
    assert b.post("/admin/users/admin/password").status_code == 403
    assert b.post("/admin/profile", {"profile": "semarang"}).status_code == 403
    assert not User.select().where(User.username == "mallory").exists()
    assert get_user("admin").active and active_profile().id == "bengkalis"


def test_anonymous_is_sent_to_login(app):
    response = app.test_client().get("/admin/users")
    assert response.status_code == 302 and "/login" in response.location


def test_users_page_lists_users_and_links_the_profile(admin):
    page = admin.get("/admin/users").get_data(as_text=True)
    for username in ("admin", "operator", "supervisor", "damkar", "polres", "pusat"):
        assert f'data-username="{username}"' in page
    damkar_row = re.search(r'<tr data-username="damkar".*?</tr>', page, re.S).group(0)
    assert "<td>DAMKAR</td>" in damkar_row and f"<td>{translate('agency', 'id')}</td>" in damkar_row
    assert 'href="/admin/profile"' in page
    assert page.count('name="csrf_token"') >= 1 + 2 * 6  # add form, and per user: reset (+ toggle)
    assert 'style="' not in page


def test_add_user_with_generated_one_time_password(app, admin):
    response = admin.post("/admin/users", {"username": "Budi", "full_name": "Budi Santoso", "role": "call_taker",
                                           "agency": "", "password": ""})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    otp = _one_time_password(response.get_data(as_text=True))
    user = get_user("budi")
    assert (user.full_name, user.role, user.agency_id, user.active, user.must_change_password) == (
        "Budi Santoso", "call_taker", None, True, True)
    # The one-time password works once; the user is sent to change it.
    _b, login = _try_login(app, "budi", otp)
    assert login.status_code == 302 and login.location.endswith("/password")
    # It is shown once: the list page does not carry it, and the audit event holds no password.
    assert otp not in admin.get("/admin/users").get_data(as_text=True)
    (event,) = _events("user.create")
    detail = json.loads(event.detail)
    assert event.actor == "admin" and event.incident_id is None
    assert detail == {"username": "budi", "role": "call_taker", "agency": None, "generated_password": True}
    assert otp not in event.detail


def test_add_agency_user_with_chosen_password(app, admin):
    response = admin.post("/admin/users", {"username": "bpbd1", "full_name": "Petugas BPBD", "role": "agency",
                                           "agency": "BPBD", "password": "sandi-pilihan-1"})
    assert response.status_code == 302
    user = get_user("bpbd1")
    assert user.agency.code == "BPBD" and user.must_change_password
    assert 'id="one-time-password"' not in admin.get("/admin/users").get_data(as_text=True)
    assert _try_login(app, "bpbd1", "sandi-pilihan-1")[1].status_code == 302
    assert json.loads(_events("user.create")[0].detail)["agency"] == "BPBD"


REFUSED = [
    ({"username": "petugas", "role": "agency", "agency": ""}, "Pengguna instansi wajib terikat pada satu instansi"),
    ({"username": "petugas", "role": "agency", "agency": "NOPE"}, "Instansi tidak dikenal"),
    ({"username": "petugas", "role": "supervisor", "agency": "DAMKAR"},
     "Hanya peran instansi yang terikat pada instansi"),
    ({"username": "x", "role": "call_taker"}, "Nama pengguna 2-32"),
    ({"username": "operator", "role": "call_taker"}, "Nama pengguna sudah dipakai"),
    ({"username": "petugas", "role": "raja"}, "Pilihan tidak dikenal"),
    ({"username": "petugas", "role": ""}, "Wajib dipilih"),
    ({"username": "petugas", "role": "call_taker", "password": "pendek"}, "Kata sandi minimal 10 karakter"),
]


def test_add_user_refused_with_message_and_nothing_written(admin):
    users_before, events_before = User.select().count(), Event.select().count()
    for data, field_message in REFUSED:
        response = admin.post("/admin/users", {"full_name": "Petugas", **data})
        assert response.status_code == 422, data
        page = response.get_data(as_text=True)
        assert field_message in page and 'class="field-error"' in page, data
        assert f'value="{data["username"]}"' in page  # the form keeps what was typed
        assert User.select().count() == users_before and Event.select().count() == events_before


def test_deactivated_user_cannot_log_in_and_is_logged_out(app, admin, login):
    operator = login("operator")
    assert operator.get("/board").status_code == 200
    assert admin.post("/admin/users/operator/active", {"active": "0"}).status_code == 302
    assert not get_user("operator").active
    assert operator.get("/board").status_code == 302  # the open session ends at once
    assert _try_login(app, "operator", PASSWORD)[1].status_code == 401
    assert [json.loads(e.detail)["username"] for e in _events("user.deactivate")] == ["operator"]
    page = admin.get("/admin/users").get_data(as_text=True)
    assert re.search(r'<tr data-username="operator" class="inactive">', page)
    # Reactivated, the same password works again.
    assert admin.post("/admin/users/operator/active", {"active": "1"}).status_code == 302
    assert _try_login(app, "operator", PASSWORD)[1].status_code == 302
    assert len(_events("user.reactivate")) == 1


def test_admin_cannot_deactivate_themself(admin):
    response = admin.post("/admin/users/admin/active", {"active": "0"})
    assert response.status_code == 409
    assert "tidak dapat menonaktifkan akun Anda sendiri" in response.get_data(as_text=True)
    assert get_user("admin").active and not _events("user.deactivate")
    assert admin.get("/admin/users").status_code == 200


def test_toggle_needs_a_valid_flag_and_a_known_user(admin):
    assert admin.post("/admin/users/operator/active", {"active": "mungkin"}).status_code == 422
    assert admin.post("/admin/users/operator/active", {}).status_code == 422
    assert get_user("operator").active
    assert admin.post("/admin/users/nobody/active", {"active": "0"}).status_code == 404


def test_reset_password_gives_a_working_one_time_password(app, admin):
    response = admin.post("/admin/users/polres/password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    otp = _one_time_password(response.get_data(as_text=True))
    assert get_user("polres").must_change_password
    assert _try_login(app, "polres", PASSWORD)[1].status_code == 401  # the old password is gone
    b, login = _try_login(app, "polres", otp)
    assert login.status_code == 302 and login.location.endswith("/password")
    # The user replaces it with their own.
    b.get("/password")
    changed = b.post("/password", {"current_password": otp, "new_password": "baru-milik-polres",
                                   "confirm_password": "baru-milik-polres"})
    assert changed.status_code == 302 and not get_user("polres").must_change_password
    (event,) = _events("user.reset_password")
    assert event.actor == "admin" and json.loads(event.detail) == {"username": "polres"}
    assert otp not in event.detail
    assert admin.post("/admin/users/nobody/password").status_code == 404


def test_forms_need_the_csrf_token(admin):
    response = admin.client.post("/admin/users", data={"username": "tanpatoken", "role": "call_taker"})
    assert response.status_code == 400
    assert not User.select().where(User.username == "tanpatoken").exists()


# --- routing profile ---------------------------------------------------------------------


def test_profile_page_shows_matrix_and_standards(admin):
    page = admin.get("/admin/profile").get_data(as_text=True)
    assert 'id="active-profile">bengkalis<' in page
    assert re.search(r'<tr data-key="receive" data-seconds="120">', page)
    fire = re.search(r'<tr data-code="3">.*?</tr>', page, re.S).group(0)
    for code in ("DINKES", "DAMKAR", "DISHUB", "SATPOLPP", "POLRES", "PLN", "BPBD"):
        assert f">{code}</span>" in fire
    assert '<option value="semarang"' in page and 'href="/admin/users"' in page


def test_switch_profile_to_semarang_is_applied_and_audited(admin):
    response = admin.post("/admin/profile", {"profile": "semarang"})
    assert response.status_code == 302
    profile = active_profile()
    assert profile.id == "semarang" and profile.sop_step("receive").standard_seconds == 30
    assert RoutingProfile.select().where(RoutingProfile.active == True).count() == 1  # noqa: E712
    (event,) = _events("profile.switch")
    assert event.actor == "admin" and json.loads(event.detail) == {"from": "bengkalis", "to": "semarang"}
    page = admin.get("/admin/profile").get_data(as_text=True)
    assert 'id="active-profile">semarang<' in page and 'data-key="receive" data-seconds="30"' in page
    # The posko report now measures against Semarang's standards.
    report = admin.get("/reports/shift").get_data(as_text=True)
    assert re.search(r'<tr data-key="receive">\s*<td>1\. [^<]+</td>\s*<td class="num">0:30</td>', report)


def test_switch_to_unknown_profile_is_refused(admin):
    for name in ("jakarta", "", "../bengkalis", "/etc/passwd"):
        response = admin.post("/admin/profile", {"profile": name})
        assert response.status_code == 422, name
        assert "Profil tidak dikenal" in response.get_data(as_text=True)
        assert active_profile().id == "bengkalis" and not _events("profile.switch")
