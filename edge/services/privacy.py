"""Callers' personal data, in one place: who sees a caller's name and number, and how it is hidden.

A 112 record holds the caller's name and number (and sometimes either in free text). The
call-taker and the supervisor need them to call back; everyone else gets only what the job
needs. Every page, the JSON API and the exports ask this module, so the rule is written once:

- call_taker, supervisor, admin (view "full"): everything as written.
- agency, on the cases dispatched to it ("contact"): the reporter's name and number (the field
  team may have to ring the reporter to find the place); call log numbers masked.
- central, analyst ("masked"): name "—", numbers "0812****122", numbers and the reporter's name
  inside free text hidden the same way.

Exports are either full or **pseudonymised**: numbers become a keyed hash (HMAC-SHA256 with a
secret kept in this node's `node_setting`, never replicated), so the same caller has the same
pseudonym across an export and repeat callers can still be counted, but the number cannot be
recovered; names are dropped. Roles that see masked data only ever get pseudonymised exports.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import replace
from enum import StrEnum
from typing import Any

from edge.enums import Role

MASK = "****"
NO_NAME = "—"
PSEUDONYM_PREFIX = "p-"
KEY_SETTING = "pseudonym_key"

# Keys of serialised records (edge.api.serialize, central.interchange) holding caller data.
NUMBER_KEYS = frozenset({"reporter_number", "caller_number", "number", "callbackNumber"})
NAME_KEYS = frozenset({"reporter_name"})
TEXT_KEYS = frozenset({"situation", "initial_handling", "final_report", "notes", "text", "report", "noteText"})
# An Indonesian phone number inside free text: 0… or (+)62…, 8-15 digits, spaces or dashes between
# groups; not a case number ("posko-a-2026-00001") or a date.
PHONE_IN_TEXT = re.compile(r"(?<![\w+-])(?:\+?62[ -]?|0)\d(?:[ -]?\d){6,13}(?![\w-])")


class CallerView(StrEnum):
    FULL = "full"
    CONTACT = "contact"  # reporter contact shown, call log masked (agency dispatchers)
    MASKED = "masked"
    PSEUDONYMISED = "pseudonymised"  # exports only


FULL_ROLES = frozenset({Role.CALL_TAKER, Role.SUPERVISOR, Role.ADMIN})


def view_for(role: str | None) -> CallerView:
    """How a role sees callers on pages and in the API (unknown roles: masked)."""
    if role in FULL_ROLES:
        return CallerView.FULL
    if role == Role.AGENCY:
        return CallerView.CONTACT
    return CallerView.MASKED


def export_view(role: str | None, pseudonymise: bool = False) -> CallerView:
    """What an export holds: full data only for a role that sees it and did not ask otherwise."""
    if view_for(role) == CallerView.FULL and not pseudonymise:
        return CallerView.FULL
    return CallerView.PSEUDONYMISED


# --- the primitives ----------------------------------------------------------------------


def normalise_number(number: str) -> str:
    """Digits only, Indonesian numbers in national form (+62 812… and 62812… → 0812…)."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("62") and len(digits) > 9:
        digits = "0" + digits[2:]
    return digits


def mask_number(number: str) -> str:
    """"081277001122" → "0812****122": operator prefix and last three digits, length hidden."""
    if not number or number.startswith(PSEUDONYM_PREFIX):
        return number or ""
    digits = normalise_number(number)
    if len(digits) < 8:
        return MASK
    return digits[:4] + MASK + digits[-3:]


def pseudonym(number: str, key: bytes) -> str:
    """A keyed hash of the number: stable for one key, not reversible without it."""
    if not number or number.startswith(PSEUDONYM_PREFIX):
        return number or ""
    digest = hmac.new(key, normalise_number(number).encode("ascii"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:16]


def pseudonym_key() -> bytes:
    """This node's pseudonym secret (created on first use, node-local, never replicated)."""
    from edge.services import set_setting, setting, write_tx

    value = setting(KEY_SETTING)
    if not value:
        with write_tx():
            value = setting(KEY_SETTING)
            if not value:
                value = secrets.token_hex(32)
                set_setting(KEY_SETTING, value)
    return bytes.fromhex(value)


class Scrubber:
    """Applies one view to numbers, names and free text (and to whole serialised records)."""

    def __init__(self, view: CallerView, key: bytes | None = None) -> None:
        self.view = view
        if view == CallerView.PSEUDONYMISED and key is None:
            key = pseudonym_key()
        self.key = key or b""

    @property
    def hides(self) -> bool:
        return self.view != CallerView.FULL

    def number(self, value: str, reporter: bool = False) -> str:
        """A caller number; `reporter` numbers stay visible to the agency's contact view."""
        if not value or self.view == CallerView.FULL or (reporter and self.view == CallerView.CONTACT):
            return value or ""
        if self.view == CallerView.PSEUDONYMISED:
            return pseudonym(value, self.key)
        return mask_number(value)

    def name(self, value: str) -> str:
        if not value or self.view in (CallerView.FULL, CallerView.CONTACT):
            return value or ""
        return "" if self.view == CallerView.PSEUDONYMISED else NO_NAME

    def text(self, value: str, names: Iterable[str] = ()) -> str:
        """Free text with phone numbers and the given caller names hidden."""
        if not value or self.view in (CallerView.FULL, CallerView.CONTACT):
            return value or ""
        out = PHONE_IN_TEXT.sub(lambda m: self.number(m.group(0)), value)
        for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 3}, key=len, reverse=True):
            out = re.sub(re.escape(name), NO_NAME, out, flags=re.IGNORECASE)
        return out

    def record(self, doc: Any) -> Any:
        """A copy of a JSON-like document (dicts, lists) with caller data hidden by key."""
        if not self.hides:
            return doc
        names: set[str] = set()
        _collect(doc, names)
        return self._walk(doc, names)

    def _walk(self, doc: Any, names: set[str]) -> Any:
        if isinstance(doc, list):
            return [self._walk(item, names) for item in doc]
        if not isinstance(doc, dict):
            return doc
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if isinstance(value, str) and key in NUMBER_KEYS:
                out[key] = self.number(value, reporter=key == "reporter_number")
            elif isinstance(value, str) and key in NAME_KEYS:
                out[key] = self.name(value)
            elif isinstance(value, str) and key in TEXT_KEYS:
                out[key] = self.text(value, names)
            else:
                out[key] = self._walk(value, names)
        return out


def _collect(doc: Any, names: set[str]) -> None:
    if isinstance(doc, list):
        for item in doc:
            _collect(item, names)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            if key in NAME_KEYS and isinstance(value, str) and value:
                names.add(value)
            else:
                _collect(value, names)


def scrubber_for(role: str | None) -> Scrubber:
    return Scrubber(view_for(role))


def hide_top_callers(summary: Any, role: str | None, field: str = "top_callers") -> Any:
    """A report summary (frozen dataclass) whose `field` list of callers (each with a `number`)
    is masked for this role; counts stay, so "the numbers calling most" still reads."""
    scrubber = scrubber_for(role)
    if not scrubber.hides:
        return summary
    callers = [replace(c, number=scrubber.number(c.number)) for c in getattr(summary, field)]
    return replace(summary, **{field: callers})


# --- templates ---------------------------------------------------------------------------


def register_template_filters(app: Any) -> None:
    """Jinja filters for pages: `caller_number`, `reporter_number`, `caller_name`, `caller_text`.

    Each asks the logged-in user's role, so a template never decides who sees what.
    """
    from flask import g

    def scrubber() -> Scrubber:
        user = g.get("user")
        return scrubber_for(user.role if user is not None else None)

    app.jinja_env.filters["caller_number"] = lambda value: scrubber().number(value or "")
    app.jinja_env.filters["reporter_number"] = lambda value: scrubber().number(value or "", reporter=True)
    app.jinja_env.filters["caller_name"] = lambda value: scrubber().name(value or "")
    app.jinja_env.filters["caller_text"] = lambda value, *names: scrubber().text(value or "", names)
