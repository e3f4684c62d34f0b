"""Request plumbing of the JSON API: bearer tokens, roles, JSON bodies and error answers.

Every answer that is not a success has the same shape,
`{"error": code, "message": text, "fields": {field: text}}`, whatever raised it: a service
error (ValidationError 422, NotFound 404, Forbidden 403, Conflict 409), a refused token
(401 with `WWW-Authenticate: Bearer`), a body that is not a JSON object (400, 415, 422),
a body over the size limit (413), or routing (404, 405; see edge.app's error pages).
Messages are translated to English (`Accept-Language: id` keeps them Indonesian).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from edge.enums import Role
from edge.i18n import translate
from edge.models import User
from edge.services.errors import ServiceError, ValidationError
from edge.services.users import user_for_token

MAX_BODY_BYTES = 64 * 1024

# The same role sets as the UI's views (edge.main.routes, edge.agency.routes).
INTAKE_ROLES = (Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN)
BOARD_ROLES = (*INTAKE_ROLES, Role.CENTRAL)
READ_ROLES = (*INTAKE_ROLES, Role.CENTRAL, Role.AGENCY, Role.ANALYST)
DISPATCH_UPDATE_ROLES = (*INTAKE_ROLES, Role.AGENCY)
AGENCY_ROLES = (Role.AGENCY,)
EXPORT_ROLES = (Role.CENTRAL, Role.SUPERVISOR, Role.ADMIN, Role.ANALYST)  # closed-case records and feed
ANY_ROLE = tuple(Role)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "storage_unavailable",
}
HTTP_MESSAGES = {
    400: "Bad request.",
    401: "A valid bearer token is required.",
    403: "Your role may not do this.",
    404: "Not found.",
    405: "Method not allowed for this resource.",
    413: "Request body too large (limit {limit} bytes).",
    415: "Send the request body as application/json.",
    500: "Internal error. Data already saved is safe.",
    503: "The node cannot store data now (disk full, disk failing or database busy): this request was NOT "
         "saved. Data already saved is safe.",
}


class ApiError(ServiceError):
    """A request the API refuses before any service runs (body format, authentication)."""

    def __init__(self, status: int, code: str, message: str, **params: object) -> None:
        super().__init__(message, **params)
        self.status_code = status
        self.code = code


def api_lang() -> str:
    """English unless the client prefers Indonesian."""
    return request.accept_languages.best_match(("en", "id")) or "en"


def tr(message: str, **params: object) -> str:
    return translate(message, api_lang(), **params)


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": code, "message": message, "fields": fields or {}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def service_error(exc: ServiceError) -> Response:
    """Any service error as JSON with its own status; validation errors name each field."""
    fields = {}
    if isinstance(exc, ValidationError):
        fields = {field: tr(message) for field, message in exc.errors.items()}
    headers = {"WWW-Authenticate": 'Bearer realm="siaga112"'} if exc.status_code == 401 else None
    return error_response(exc.status_code, exc.code, tr(exc.message, **exc.params), fields, headers)


def http_error(status: int) -> Response:
    """A werkzeug/Flask HTTP error (routing 404/405, 413 …) in the API's error shape."""
    message = HTTP_MESSAGES.get(status, "Request refused.").format(limit=body_limit())
    return error_response(status, HTTP_CODES.get(status, "error"), message)


def http_exception(exc: HTTPException) -> Response:
    response = http_error(exc.code or 500)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def body_limit() -> int:
    return int(current_app.config.get("API_MAX_BODY_BYTES", MAX_BODY_BYTES))


# --- authentication ---------------------------------------------------------------------


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _unauthorized(invalid: bool) -> Response:
    challenge = 'Bearer realm="siaga112"' + (', error="invalid_token"' if invalid else "")
    return error_response(401, "unauthorized", tr(HTTP_MESSAGES[401]), headers={"WWW-Authenticate": challenge})


def api_user() -> User:
    """The user of the current API request (set by `require`)."""
    return g.api_user


def require(*roles: Role) -> Callable:
    """Authenticate by bearer token and allow only these roles (401 / 403 otherwise)."""
    allowed = roles or ANY_ROLE

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            token = bearer_token()
            user = user_for_token(token) if token else None
            if user is None:
                return _unauthorized(invalid=token is not None)
            if user.role not in allowed:
                return error_response(403, "forbidden", tr(HTTP_MESSAGES[403]))
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.api_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


# --- request bodies ---------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object.

    Raises ApiError 415 (not JSON), 400 (malformed), 422 (not an object); reading a body
    over the limit raises werkzeug's 413.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", HTTP_MESSAGES[415])
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
        # Lone surrogates (from \ud800 escapes) cannot be stored as UTF-8.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "Malformed JSON body: {reason}",
                       reason=str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply") from None
    if not isinstance(data, dict):
        raise ValidationError({"body": "Data harus berupa objek"})
    return data
