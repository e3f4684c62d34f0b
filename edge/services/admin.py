"""Administration: adding, deactivating and resetting users; switching the routing profile.

Every change is an audit event (`user.*`, `profile.switch`, `profile.load`, `token.issue`)
written in the same transaction as the change itself, so the trail never says something
that did not happen nor misses something that did. Passwords never go into the trail.
The same changes made with the `siaga112` command on the node itself (the `console_*`
functions) name the actor `console:<system user>`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from peewee import JOIN

from edge.enums import Role
from edge.models import Agency, User
from edge.profile import Profile, ProfileError, builtin_names, load_profile
from edge.services import write_tx
from edge.services.audit import append_event
from edge.services.errors import Conflict, Forbidden, NotFound, ValidationError
from edge.services.profiles import active_profile, install_profile
from edge.services.users import USERNAME_RE, create_user, get_user, issue_token, new_password, set_password
from edge.services.validation import Checker


def _require_admin(actor: User) -> None:
    if actor is None or actor.role != Role.ADMIN:
        raise Forbidden("Hanya administrator yang boleh mengelola pengguna dan profil")


def list_users() -> list[User]:
    return list(User.select(User, Agency).join(Agency, JOIN.LEFT_OUTER)
                .order_by(User.active.desc(), User.role, User.username))


def list_agencies() -> list[Agency]:
    return list(Agency.select().where(Agency.active == True).order_by(Agency.code))  # noqa: E712


@dataclass
class NewUser:
    user: User
    one_time_password: str | None  # set when the password was generated: show it once


def add_user(actor: User, data: dict | None) -> NewUser:
    """Create a user from the admin form. An empty password generates a one-time password.

    The user must change the password at first login either way: the admin knows it.
    """
    _require_admin(actor)
    check = Checker(data)
    username = check.text("username", required=True, max_len=32).lower()
    full_name = check.text("full_name", max_len=100)
    role = check.choice("role", Role, required=True)
    agency = check.text("agency", max_len=32)
    password = check.text("password", max_len=200)
    if username and not USERNAME_RE.match(username):
        check.fail("username", "Nama pengguna 2-32 huruf kecil, angka, titik, garis bawah atau strip")
    check.done()
    generated = not password
    if generated:
        password = new_password()
    with write_tx():
        if User.select().where(User.username == username).exists():
            raise ValidationError({"username": "Nama pengguna sudah dipakai"})
        user = create_user(username, role, password, full_name=full_name, agency_code=agency or None,
                           must_change_password=True)
        append_event(None, actor.username, "user.create", {
            "username": user.username, "role": user.role,
            "agency": user.agency.code if user.agency_id else None, "generated_password": generated,
        })
    return NewUser(user, password if generated else None)


def set_active(actor: User, username: str, active: bool) -> User:
    """Deactivate (the user cannot log in; open sessions and API tokens stop working) or reactivate."""
    _require_admin(actor)
    with write_tx():
        user = get_user(username)
        if not active and user.id == actor.id:
            raise Conflict("Anda tidak dapat menonaktifkan akun Anda sendiri")
        if user.active != active:
            user.active = active
            user.save()
            append_event(None, actor.username, "user.reactivate" if active else "user.deactivate",
                         {"username": user.username})
    return user


def reset_password(actor: User, username: str) -> str:
    """Give the user a new one-time password (returned once) that must be changed at login."""
    _require_admin(actor)
    password = new_password()
    with write_tx():
        user = get_user(username)
        set_password(user, password)
        user.must_change_password = True
        user.save()
        append_event(None, actor.username, "user.reset_password", {"username": user.username})
    return password


def switch_profile(actor: User, name: str | None) -> str:
    """Make a built-in routing profile the active one; returns its id."""
    _require_admin(actor)
    name = (name or "").strip()
    if name not in builtin_names():
        raise ValidationError({"profile": "Profil tidak dikenal"})
    try:
        profile = load_profile(name)
    except ProfileError as exc:
        raise ValidationError({"profile": f"Profil tidak valid: {exc}"}) from None
    _activate(profile, actor.username, "profile.switch")
    return profile.id


# --- the same, from the console (siaga112 user add / user token / profile load) ------------


def console_actor() -> str:
    """Who ran the `siaga112` command: the audit trail's actor for console changes."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a container)
        who = "?"
    return f"console:{who}"[:64]


def console_add_user(username: str, role: str, password: str, full_name: str = "", agency_code: str | None = None,
                     one_time: bool = True) -> User:
    """`siaga112 user add`: create a user, audited."""
    with write_tx():
        user = create_user(username, role, password, full_name, agency_code, must_change_password=one_time)
        append_event(None, console_actor(), "user.create", {
            "username": user.username, "role": user.role,
            "agency": user.agency.code if user.agency_id else None, "generated_password": one_time})
    return user


def console_issue_token(username: str, label: str = "") -> str:
    """`siaga112 user token`: a new API token for `username`, audited (the token itself is not)."""
    with write_tx():
        token = issue_token(get_user(username), label)
        append_event(None, console_actor(), "token.issue", {"username": username, "label": label})
    return token


def console_load_profile(profile: Profile) -> None:
    """`siaga112 profile load`: make `profile` the active one, audited."""
    _activate(profile, console_actor(), "profile.load")


def _activate(profile: Profile, actor: str, kind: str) -> None:
    """Install `profile` as the active one and audit it (`kind`) with the one it replaced."""
    with write_tx():
        try:
            previous: str | None = active_profile().id
        except NotFound:
            previous = None
        install_profile(profile)
        append_event(None, actor, kind, {"from": previous, "to": profile.id})
