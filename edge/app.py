"""Flask app factory: one node's incident app (posko, agency station or central).

`create_app(data_dir)` opens the node's database, wires one blueprint per area
(auth, main = call-taker, agency, reports, admin, api) and the cross-cutting parts:
CSRF on every form, session timeout, language choice, security headers.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from peewee import OperationalError
from playhouse.flask_utils import FlaskDB

from edge.enums import Role
from edge.health import OWN_CONNECTION_ENDPOINTS as HEALTH_OWN_CONNECTION
from edge.health import install as install_health
from edge.i18n import DEFAULT_LANG, LANGUAGES, pick, translate
from edge.logsetup import redacted
from edge.models import User
from edge.profile import ProfileError
from edge.services import privacy, setting
from edge.services.errors import ServiceError, storage_problem
from edge.services.node import open_node
from edge.services.profiles import active_profile
from edge.timeutil import format_wib, utcnow

csrf = CSRFProtect()
log = logging.getLogger("siaga112.web")

SECRET_FILE = "secret_key"


def _secret_key(data_dir: Path) -> str:
    """Per-node secret for sessions and CSRF, created once with mode 0600."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class NodeDB(FlaskDB):
    """peewee's FlaskDB (a connection per request), tolerant of a connection the same thread
    already holds (CLI commands and tests call services outside a request)."""

    def connect_db(self) -> None:
        if request.endpoint in self._excluded_routes:
            return  # /healthz and /metrics open their own connection and survive a broken database
        self.database.connect(reuse_if_open=True)


def create_app(data_dir: str | Path | None = None, **overrides: object) -> Flask:
    data_dir = Path(data_dir or os.environ.get("SIAGA112_DATA_DIR", "./data")).resolve()
    app = Flask(__name__)
    app.config.update(
        DATA_DIR=str(data_dir),
        SECRET_KEY=_secret_key(data_dir) if data_dir.exists() else secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_IDLE_MINUTES=int(os.environ.get("SIAGA112_SESSION_IDLE_MINUTES", "30")),
        # An agency station's inbox stays open unattended for a whole shift waiting for the
        # alarm; logging it out after 30 minutes would silence the next dispatch.
        SESSION_IDLE_MINUTES_AGENCY=int(os.environ.get("SIAGA112_SESSION_IDLE_MINUTES_AGENCY", "720")),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, which times out itself
        BOARD_REFRESH_SECONDS=5,
    )
    app.config.update(overrides)
    db = open_node(data_dir)
    with db.connection_context():
        node = setting("node_id", "node")
        node_role = setting("node_role", "posko")
    db.close()
    if "SESSION_COOKIE_NAME" not in overrides:
        # One cookie per node: several nodes on one machine (the demo) must not share a session.
        app.config["SESSION_COOKIE_NAME"] = f"siaga112_{node}"
    NodeDB(app, database=db, excluded_routes=HEALTH_OWN_CONNECTION)
    csrf.init_app(app)

    from edge.admin import bp as admin_bp
    from edge.agency import bp as agency_bp
    from edge.api import bp as api_bp
    from edge.auth import bp as auth_bp
    from edge.main import bp as main_bp
    from edge.reports import bp as reports_bp

    for bp in (auth_bp, main_bp, agency_bp, reports_bp, admin_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # bearer-token auth, no cookies: CSRF does not apply
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    if node_role == "central":
        from central import register as register_central

        register_central(app)

    _install_request_hooks(app)
    install_health(app)  # /healthz, /metrics and the request latency hooks
    _install_template_helpers(app)
    _install_error_pages(app)
    return app


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def load_user_and_lang():
        g.user = None
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            session["lang"] = lang
        uid = session.get("uid")
        if uid:
            user = User.get_or_none((User.id == uid) & (User.active == True))  # noqa: E712
            now = utcnow().timestamp()
            key = "SESSION_IDLE_MINUTES_AGENCY" if user and user.role == Role.AGENCY else "SESSION_IDLE_MINUTES"
            if user is None or now - session.get("seen", 0) > app.config[key] * 60:
                session.pop("uid", None)
                session["expired"] = True
            else:
                g.user = user
                # Background polling (board refresh, inbox alerts) does not count as activity.
                if request.headers.get("X-Siaga-Poll") != "1":
                    session["seen"] = now
        g.lang = session.get("lang") or (g.user.lang if g.user else DEFAULT_LANG)
        # A one-time password must be replaced before any work: only the password page,
        # logout, language switch and static files stay reachable until then.
        if (g.user is not None and g.user.must_change_password and not request.path.startswith("/api/")
                and request.endpoint not in ("auth.password", "auth.logout", "auth.set_lang", "static")):
            return redirect(url_for("auth.password"))
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'",
        )
        return response


def _type_name(code: int) -> str:
    try:
        if "active_profile" not in g:  # read once per request: a board names hundreds of types
            g.active_profile = active_profile()
        spec = g.active_profile.incident_type(code)
    except (ProfileError, ServiceError):
        return str(code)
    return pick(spec.name_id, spec.name_en)


def _install_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, pick=pick, languages=LANGUAGES, type_name=_type_name)
    app.jinja_env.filters["wib"] = format_wib
    app.jinja_env.filters["fromjson"] = json.loads
    app.jinja_env.filters["wib_time"] = lambda v: format_wib(v, "%H:%M:%S")
    privacy.register_template_filters(app)  # caller_number, caller_name, caller_text: who sees callers

    @app.context_processor
    def node_context() -> dict:
        from sync.status import device_status, node_status

        return {
            "sync_status": node_status() if g.get("user") else None,
            "modem_status": device_status("modem") if g.get("user") else None,
            "radio_status": device_status("radio") if g.get("user") else None,
            "current_user": g.get("user"),
            "lang": g.get("lang", DEFAULT_LANG),
            "node_id": setting("node_id", "?"),
            "node_role": setting("node_role", "posko"),
        }


def _install_error_pages(app: Flask) -> None:
    def page(code: int, title: str, message: str):
        if request.path.startswith("/api/"):
            from edge.api.auth import http_error  # the API's error shape: {"error": code, "message", "fields"}

            return http_error(code)
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        log.warning("CSRF refused: %s %s (%s)", request.method, redacted(request.path), exc.description)
        return page(400, translate("Formulir kedaluwarsa"),
                    translate("Token keamanan formulir tidak valid. Muat ulang halaman lalu kirim lagi."))

    @app.errorhandler(403)
    def forbidden(_exc):
        return page(403, translate("Akses ditolak"), translate("Peran Anda tidak boleh membuka halaman ini."))

    @app.errorhandler(404)
    def not_found(_exc):
        return page(404, translate("Tidak ditemukan"), translate("Halaman atau data tidak ditemukan."))

    @app.errorhandler(405)
    def not_allowed(_exc):
        return page(405, translate("Metode tidak diizinkan"), translate("Metode permintaan tidak diizinkan."))

    @app.errorhandler(OperationalError)
    def storage_error(exc: OperationalError):
        """The disk is full or failing, or the database stays locked: say that this request was not
        saved (503), so the operator writes it down and calls IT, instead of a bare 500."""
        if not storage_problem(exc):
            return server_error(exc)
        log.error("storage error on %s %s: %s", request.method, redacted(request.path), exc)
        return page(503, translate("Penyimpanan bermasalah"),
                    translate("Data ini BELUM tersimpan: disk node penuh atau rusak, atau basis data sibuk. Catat di kertas, coba lagi sebentar lagi, dan hubungi petugas TI (siaga112 doctor). Data yang sudah tersimpan tetap aman."))  # noqa: E501

    @app.errorhandler(500)
    def server_error(_exc):
        log.exception("unhandled error on %s %s", request.method, redacted(request.path))
        return page(500, translate("Kesalahan sistem"),
                    translate("Terjadi kesalahan. Data yang sudah tersimpan tetap aman."))
