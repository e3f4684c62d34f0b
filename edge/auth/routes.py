from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request, session, url_for

from edge.auth import bp
from edge.i18n import LANGUAGES, translate
from edge.services.errors import ServiceError
from edge.services.users import authenticate, set_password
from edge.timeutil import utcnow
from edge.web import current_user, error_text, home_endpoint, login_required

log = logging.getLogger("siaga112.auth")


def _safe_next(target: str | None) -> str | None:
    # Only local paths: never redirect a login to another site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        try:
            user = authenticate(request.form.get("username", ""), request.form.get("password", ""),
                                request.remote_addr or "?")
        except ServiceError as exc:
            log.warning("login refused for %r from %s: %s", request.form.get("username", "")[:64],
                        request.remote_addr, exc.code)
            flash(error_text(exc), "error")
            return render_template("auth/login.html"), exc.status_code
        lang = session.get("lang")
        session.clear()
        session.permanent = True
        session["uid"] = user.id
        session["seen"] = utcnow().timestamp()
        if lang:
            session["lang"] = lang
        if user.must_change_password:
            return redirect(url_for("auth.password"))
        return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(user)))
    if session.pop("expired", False):
        flash(translate("Sesi berakhir karena tidak aktif. Silakan masuk lagi."), "info")
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    user = current_user()
    if request.method == "POST":
        new = request.form.get("new_password", "")
        try:
            authenticate(user.username, request.form.get("current_password", ""), request.remote_addr or "?")
            if new != request.form.get("confirm_password", ""):
                flash(translate("Konfirmasi kata sandi tidak sama"), "error")
                return render_template("auth/password.html"), 422
            set_password(user, new)
        except ServiceError as exc:
            flash(error_text(exc) if not hasattr(exc, "errors") else
                  "; ".join(translate(m) for m in exc.errors.values()), "error")
            return render_template("auth/password.html"), exc.status_code
        flash(translate("Kata sandi diganti"), "info")
        return redirect(url_for(home_endpoint(user)))
    return render_template("auth/password.html")


@bp.route("/lang/<lang>", methods=["POST"])
def set_lang(lang: str):
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.login"))


@bp.route("/")
def index():
    user = current_user()
    return redirect(url_for(home_endpoint(user)) if user else url_for("auth.login"))
