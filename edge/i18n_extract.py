"""Find every translatable string in the code, so a test can insist each has an English entry.

Collected: `_("…")` in templates and Python, messages of raised service errors, field
messages given to validation (`.fail(field, "…")`, `errors[...] = "…"`), and caller
flags. Run `python -m edge.i18n_extract` to print the strings missing from en.json.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UI_PACKAGES = (ROOT, ROOT.parent / "central")  # every package that renders pages or messages
_STR = r'"((?:[^"\\]|\\.)+)"'
TEMPLATE_PATTERNS = [re.compile(r"_\(\s*" + _STR), re.compile(r"_\(\s*'((?:[^'\\]|\\.)+)'")]
PYTHON_PATTERNS = [
    re.compile(r"\b(?:_|translate)\(\s*" + _STR),
    re.compile(r"raise \w+\(\s*" + _STR),
    re.compile(r"\.fail\(\s*\"?\w+\"?,\s*f?" + _STR),
    re.compile(r"errors\[[^\]]+\]\s*=\s*f?" + _STR),
    re.compile(r"flags\.append\(\s*" + _STR),
    re.compile(r"ValidationError\(\{\s*\"\w+\":\s*f?" + _STR),
]
# f-string fields become catalogue placeholders: f"Maksimal {max_len} karakter" -> "Maksimal {max_len} karakter"


def strings_in(text: str, patterns: list[re.Pattern[str]]) -> set[str]:
    found = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            found.add(match.group(1).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    return found


def collect(roots: tuple[Path, ...] = UI_PACKAGES) -> set[str]:
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*.html"):
            found |= strings_in(path.read_text(encoding="utf-8"), TEMPLATE_PATTERNS)
        for path in root.rglob("*.py"):
            if path.name == "i18n_extract.py":
                continue
            found |= strings_in(path.read_text(encoding="utf-8"), PYTHON_PATTERNS)
    return {s for s in found if re.search(r"[A-Za-z]", s)}


def missing(lang: str = "en") -> list[str]:
    from edge.i18n import catalogue as load

    wanted = collect() | set(load("id"))
    catalogue = load(lang)
    return sorted(s for s in wanted if s not in catalogue)


if __name__ == "__main__":  # pragma: no cover
    for text in missing():
        print(text)
