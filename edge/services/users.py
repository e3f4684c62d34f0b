"""Users, roles, passwords, API tokens and login throttling.

Passwords are hashed with werkzeug's scrypt; API tokens are random and stored only
as SHA-256 hashes. Failed logins are counted in the database (not process memory),
so throttling holds across gunicorn workers and restarts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from edge.enums import Role
from edge.ids import stable_id
from edge.models import Agency, ApiToken, LoginAttempt, User
from edge.services import node_id, write_tx
from edge.services.errors import (
    Conflict,
    InvalidCredentials,
    LoginThrottled,
    NotFound,
    ValidationError,
)
from edge.timeutil import utcnow

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # api_token.last_used_at is written at most this often
# A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("siaga112-dummy-password")


def new_password() -> str:
    """A one-time password an operator can type: 4 groups of 4 lowercase letters/digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError({"password": f"Kata sandi minimal {MIN_PASSWORD} karakter"})


def create_user(
    username: str,
    role: str,
    password: str,
    full_name: str = "",
    agency_code: str | None = None,
    must_change_password: bool = False,
) -> User:
    errors: dict[str, str] = {}
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        errors["username"] = "Nama pengguna 2-32 huruf kecil, angka, titik, garis bawah atau strip"
    try:
        role_value = Role(role)
    except ValueError:
        errors["role"] = "Peran tidak dikenal"
        role_value = None
    agency = None
    if role_value == Role.AGENCY:
        if not agency_code:
            errors["agency"] = "Pengguna instansi wajib terikat pada satu instansi"
        else:
            agency = Agency.get_or_none(Agency.code == agency_code.strip().upper())
            if agency is None:
                errors["agency"] = "Instansi tidak dikenal"
    elif agency_code:
        errors["agency"] = "Hanya peran instansi yang terikat pada instansi"
    try:
        validate_password(password)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    with write_tx():
        if User.select().where(User.username == username).exists():
            raise Conflict("Nama pengguna sudah dipakai")
        return User.create(
            id=stable_id("user", username),
            username=username,
            role=role_value,
            full_name=full_name.strip(),
            agency=agency,
            password_hash=generate_password_hash(password),
            must_change_password=must_change_password,
            node=node_id(),
        )


def get_user(username: str) -> User:
    user = User.get_or_none(User.username == (username or "").strip().lower())
    if user is None:
        raise NotFound("Pengguna tidak ditemukan")
    return user


def set_password(user: User, password: str) -> None:
    validate_password(password)
    with write_tx():
        user.password_hash = generate_password_hash(password)
        user.must_change_password = False
        user.save()


def _recent_failures(field, value: str) -> int:
    since = utcnow() - FAILURE_WINDOW
    return (
        LoginAttempt.select()
        .where((field == value) & (LoginAttempt.ok == False) & (LoginAttempt.at >= since))  # noqa: E712
        .count()
    )


def authenticate(username: str, password: str, remote_addr: str) -> User:
    """Check a login; every attempt is recorded, and after MAX_FAILURES failures in
    FAILURE_WINDOW for the same username or address, further attempts are refused."""
    username = (username or "").strip().lower()[:64]
    remote_addr = (remote_addr or "?")[:64]
    if (
        _recent_failures(LoginAttempt.username, username) >= MAX_FAILURES
        or _recent_failures(LoginAttempt.remote_addr, remote_addr) >= MAX_FAILURES * 4
    ):
        raise LoginThrottled("Terlalu banyak percobaan gagal. Coba lagi dalam 5 menit.")
    user = User.get_or_none(User.username == username)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    ok = ok and user is not None and user.active
    with write_tx():
        LoginAttempt.create(username=username, remote_addr=remote_addr, ok=ok)
    if not ok:
        raise InvalidCredentials("Nama pengguna atau kata sandi salah")
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, label: str = "") -> str:
    """Create an API token for `user`; the token itself is shown once and never stored."""
    token = "s112_" + secrets.token_urlsafe(32)
    with write_tx():
        ApiToken.create(user=user, token_hash=_token_hash(token), label=label)
    return token


def user_for_token(token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    row = ApiToken.get_or_none((ApiToken.token_hash == _token_hash(token)) & (ApiToken.revoked == False))  # noqa: E712
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_USE_RESOLUTION:
        # at most one write a minute per token: an admin sees which tokens are alive, and a busy
        # API client does not add a write to every request
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return row.user
