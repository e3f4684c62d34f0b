from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from edge.admin import bp
from edge.enums import Role
from edge.i18n import translate
from edge.profile import AGENCY_KINDS, builtin_names
from edge.services import admin as admin_svc
from edge.services import agencies as agency_svc
from edge.services.errors import NotFound, ServiceError, ValidationError
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


def _agencies_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    return render_template("admin/agencies.html", agencies=agency_svc.list_agencies(), kinds=AGENCY_KINDS,
                           values=values or {}, errors=errors or {}), status


@bp.route("/admin/agencies")
@roles_required(Role.ADMIN)
def agencies():
    return _agencies_page()


@bp.route("/admin/agencies", methods=["POST"])
@roles_required(Role.ADMIN)
def add_agency():
    data = form_data()
    try:
        agency = agency_svc.create_agency(current_user(), data)
    except ValidationError as exc:
        return _agencies_page(data, field_errors(exc), status=422)
    except ServiceError as exc:
        flash_error(exc)
        return _agencies_page(data, status=exc.status_code)
    flash(translate("Instansi {code} ditambahkan", code=agency.code), "info")
    return redirect(url_for("admin.agencies"))


def _agency_page(agency, values: dict | None = None, errors: dict | None = None, status: int = 200):
    return render_template("admin/agency.html", agency=agency, kinds=AGENCY_KINDS, values=values,
                           errors=errors or {}), status


@bp.route("/admin/agencies/<code>")
@roles_required(Role.ADMIN)
def agency(code: str):
    try:
        return _agency_page(agency_svc.get_agency(code))
    except ServiceError:
        abort(404)


@bp.route("/admin/agencies/<code>", methods=["POST"])
@roles_required(Role.ADMIN)
def update_agency(code: str):
    data = form_data()
    data.setdefault("active", "0")  # an unticked checkbox sends nothing
    try:
        agency, changed = agency_svc.update_agency(current_user(), code, data)
    except NotFound:
        abort(404)
    except ValidationError as exc:
        return _agency_page(agency_svc.get_agency(code), data, field_errors(exc), status=422)
    except ServiceError as exc:
        flash_error(exc)
        return _agency_page(agency_svc.get_agency(code), data, status=exc.status_code)
    if changed:
        flash(translate("Instansi {code} diperbarui; perubahan dikirim ke semua node lewat sinkronisasi",
                        code=agency.code), "info")
    else:
        flash(translate("Tidak ada yang berubah"), "info")
    return redirect(url_for("admin.agencies"))
