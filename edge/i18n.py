"""Bahasa Indonesia by default, English on request: one tiny message catalogue.

Source strings are Indonesian (what operators read); `translations/en.json` maps them
to English. Untranslated strings fall back to Indonesian, never to an empty label.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import g, has_request_context

LANGUAGES = ("id", "en")
DEFAULT_LANG = "id"
_DIR = Path(__file__).resolve().parent / "translations"


@cache
def catalogue(lang: str) -> dict[str, str]:
    path = _DIR / f"{lang}.json"
    if lang == DEFAULT_LANG or not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def current_lang() -> str:
    if has_request_context():
        return getattr(g, "lang", DEFAULT_LANG)
    return DEFAULT_LANG


def translate(text: str, lang: str | None = None, **params: object) -> str:
    """`text` (Indonesian) in `lang`, with `{name}` placeholders filled from `params`."""
    message = catalogue(lang or current_lang()).get(text, text)
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
