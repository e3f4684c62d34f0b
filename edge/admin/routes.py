from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from edge.admin import bp
from edge.enums import Role
from edge.i18n import translate
from edge.profile import builtin_names
from edge.services import admin as admin_svc
from edge.services.errors import ServiceError, ValidationError
from edge.services.profiles import active_profile, agencies_by_code
from edge.services.validation import Checker
from edge.web import current_user, field_errors, flash_error, form_data, roles_required


def _users_page(values: dict | None = None, errors: dict | None = None, secret: dict | None = None,
                status: int = 200):
    response = render_template(
        "admin/users.html", users=admin_svc.list_users(), agencies=admin_svc.list_agencies(),
        roles=list(Role), values=values or {}, errors=errors or {},
        secret=secret,
    ), status
    if secret:
        # A one-time password is on this page: keep it out of every cache.
        return (*response, {"Cache-Control": "no-store"})
    return response


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    return _users_page()


@bp.route("/admin/users", methods=["POST"])
@roles_required(Role.ADMIN)
def add_user():
    data = form_data()
    values = {k: v for k, v in data.items() if k != "password"}
    try:
        result = admin_svc.add_user(current_user(), data)
    except ValidationError as exc:
        return _users_page(values, field_errors(exc), status=422)
    except ServiceError as exc:
        flash_error(exc)
        return _users_page(values, status=exc.status_code)
    flash(translate("Pengguna {username} ditambahkan", username=result.user.username), "info")
    if result.one_time_password:
        return _users_page(secret={"username": result.user.username, "password": result.one_time_password})
    return redirect(url_for("admin.users"))


@bp.route("/admin/users/<username>/active", methods=["POST"])
@roles_required(Role.ADMIN)
def set_active(username: str):
    check = Checker(form_data())
    active = check.boolean("active")
    try:
        if active is None:
            check.fail("active", "Pilih ya atau tidak")
        check.done()
        user = admin_svc.set_active(current_user(), username, active)
    except ServiceError as exc:
        flash_error(exc)
        return _users_page(status=exc.status_code)
    if active:
        flash(translate("Pengguna {username} diaktifkan kembali", username=user.username), "info")
    else:
        flash(translate("Pengguna {username} dinonaktifkan", username=user.username), "info")
    return redirect(url_for("admin.users"))


@bp.route("/admin/users/<username>/password", methods=["POST"])
@roles_required(Role.ADMIN)
def reset_password(username: str):
    try:
        password = admin_svc.reset_password(current_user(), username)
    except ServiceError as exc:
        flash_error(exc)
        return _users_page(status=exc.status_code)
    flash(translate("Kata sandi {username} direset", username=username), "info")
    return _users_page(secret={"username": username.strip().lower(), "password": password})


def _profile_page(errors: dict | None = None, status: int = 200):
    return render_template(
        "admin/profile.html", profile=active_profile(), names=builtin_names(), agencies=agencies_by_code(),
        errors=errors or {},
    ), status


@bp.route("/admin/profile")
@roles_required(Role.ADMIN)
def profile():
    return _profile_page()


@bp.route("/admin/profile", methods=["POST"])
@roles_required(Role.ADMIN)
def switch_profile():
    try:
        new_id = admin_svc.switch_profile(current_user(), request.form.get("profile"))
    except ValidationError as exc:
        return _profile_page(field_errors(exc), 422)
    except ServiceError as exc:
        flash_error(exc)
        return _profile_page(status=exc.status_code)
    flash(translate("Profil rute aktif sekarang: {profile}", profile=new_id), "info")
    return redirect(url_for("admin.profile"))
