"""Named errors raised by service functions; views, the API and the CLI turn them into messages.

Messages are Indonesian catalogue keys (see edge.i18n); each caller translates them.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a service function raises on purpose."""

    status_code = 400
    code = "error"

    def __init__(self, message: str = "", **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class ValidationError(ServiceError):
    """Input failed validation; `errors` maps each offending field to a message."""

    status_code = 422
    code = "validation_error"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Data tidak valid")
        self.errors = errors


class NotFound(ServiceError):
    """The record asked for does not exist (or is not visible to this user)."""

    status_code = 404
    code = "not_found"


class Forbidden(ServiceError):
    """The user's role or agency does not allow this action."""

    status_code = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The action contradicts the record's state (closing a closed case, moving a status back)."""

    status_code = 409
    code = "conflict"


class InvalidCredentials(ServiceError):
    """Wrong username or password (deliberately not saying which)."""

    status_code = 401
    code = "invalid_credentials"


class LoginThrottled(ServiceError):
    """Too many failed logins for this user or address; wait before trying again."""

    status_code = 429
    code = "login_throttled"


class NodeNotInitialised(ServiceError):
    """The data directory holds no initialised node; run `siaga112 init` first."""

    status_code = 500
    code = "not_initialised"


STORAGE_MESSAGES = ("disk is full", "disk i/o error", "database is locked", "unable to open database file")


def storage_problem(exc: BaseException) -> bool:
    """Is `exc` the database saying it cannot store anything now (disk full or failing, locked)?"""
    return any(m in str(exc).lower() for m in STORAGE_MESSAGES)
