"""Bahasa Indonesia by default, English on request: a small message catalogue.

Source strings are Indonesian (what operators read). `translations/en.json` maps them
to English; `translations/id.json` gives Indonesian labels for the English code values
stored in the database (call types, statuses, event kinds). Each package with UI
(`edge`, `central`) keeps its own `translations/` folder, and an area may keep its strings
in a fragment of its own (`en.reports.json`); the catalogue of a language is all of them. A key with `{name}`
placeholders also matches an already formatted message ("Maksimal 200 karakter"), so
services may format their messages before they reach a view. Untranslated strings
fall back to the source text, never to an empty label.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from flask import g, has_request_context

LANGUAGES = ("id", "en")
DEFAULT_LANG = "id"
_ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIRS = (_ROOT / "edge" / "translations", _ROOT / "central" / "translations")
_PLACEHOLDER = re.compile(r"\\\{(\w+)\\\}")


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for folder in CATALOGUE_DIRS:
        for path in sorted(folder.glob(f"{lang}.json")) + sorted(folder.glob(f"{lang}.*.json")):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


@cache
def _patterns(lang: str) -> list[tuple[re.Pattern[str], str]]:
    """Catalogue keys with placeholders, as regexes that match formatted messages."""
    out = []
    for key, value in catalogue(lang).items():
        if "{" in key:
            seen: set[str] = set()

            def group(m: re.Match[str], seen: set[str] = seen) -> str:
                name = m.group(1)  # a placeholder used twice matches the same text twice
                if name in seen:
                    return f"(?P={name})"
                seen.add(name)
                return f"(?P<{name}>.+?)"

            regex = _PLACEHOLDER.sub(group, re.escape(key))
            out.append((re.compile(f"^{regex}$", re.S), value))
    return out


def current_lang() -> str:
    if has_request_context():
        return getattr(g, "lang", DEFAULT_LANG)
    return DEFAULT_LANG


def translate(text: str, lang: str | None = None, **params: object) -> str:
    """`text` in `lang`, with `{name}` placeholders filled from `params`."""
    if not isinstance(text, str):
        text = str(text)
    lang = lang or current_lang()
    table = catalogue(lang)
    message = table.get(text)
    if message is None:
        for pattern, template in _patterns(lang):
            match = pattern.match(text)
            if match:
                message, params = template, {**match.groupdict(), **params}
                break
        else:
            message = text
    if params:
        try:
            return message.format(**params)
        except (KeyError, IndexError, ValueError):
            return message
    return message


_ = translate


def pick(name_id: str, name_en: str, lang: str | None = None) -> str:
    """Choose between a record's Indonesian and English name."""
    return name_en if (lang or current_lang()) == "en" and name_en else name_id
