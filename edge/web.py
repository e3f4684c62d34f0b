"""Glue shared by the HTML blueprints: current user, role checks, form parsing, error display.

Views stay thin: they parse the request with these helpers, call a service and render.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, abort, flash, g, redirect, request, session, url_for
from werkzeug.datastructures import MultiDict

from edge.enums import Role
from edge.i18n import translate
from edge.models import User
from edge.services.errors import ServiceError, ValidationError

MULTI_FIELDS = {"agencies"}


def current_user() -> User | None:
    return getattr(g, "user", None)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: Role) -> Callable:
    """Allow only these roles; others get 403 (the page says which role is needed)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any):
            if current_user().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def attachment(body: bytes | str, filename: str, mimetype: str) -> Response:
    """A file to save, never cached (reports and exports hold case data). Text goes as UTF-8."""
    if isinstance(body, str):
        body = body.encode("utf-8")
        mimetype = mimetype if "charset" in mimetype else f"{mimetype}; charset=utf-8"
    return Response(body, headers={"Content-Type": mimetype, "Cache-Control": "no-store",
                                   "Content-Disposition": f"attachment; filename={filename}"})


def form_data(form: MultiDict | None = None) -> dict[str, Any]:
    """request.form as a plain dict; list-valued fields (agency checkboxes) stay lists."""
    form = form if form is not None else request.form
    data: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        data[key] = form.getlist(key) if key in MULTI_FIELDS else form.get(key)
    return data


def error_text(exc: ServiceError) -> str:
    # Parameters are often stored codes (a status such as "en_route"): show their labels.
    return translate(exc.message, **{k: translate(str(v)) for k, v in exc.params.items()})


def field_errors(exc: ValidationError) -> dict[str, str]:
    return {field: translate(message) for field, message in exc.errors.items()}


def flash_error(exc: ServiceError) -> None:
    if isinstance(exc, ValidationError):
        for field, message in field_errors(exc).items():
            flash(f"{translate(field)}: {message}", "error")
    else:
        flash(error_text(exc), "error")


def home_endpoint(user: User) -> str:
    """Where a user lands after login: central staff on a central node see the regency overview."""
    from edge.services import setting

    if user.role == Role.CENTRAL and setting("node_role") == "central":
        return "overview.board"
    return {
        Role.AGENCY: "agency.inbox",
        Role.CENTRAL: "main.archive",
        Role.ANALYST: "main.archive",
    }.get(Role(user.role), "main.board")


def remember_lang(lang: str) -> None:
    session["lang"] = lang
