"""Numbers as a reader expects them: 12.345 and 85,2% in Indonesian, 12,345 and 85.2% in English;
durations as m:ss or h:mm:ss. Shared by the report page and the PDF so both read alike."""

from __future__ import annotations


def num(value: float | None, lang: str = "id") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}"
    return text.replace(",", ".") if lang == "id" else text


def pct(share: float | None, lang: str = "id") -> str:
    """A fraction (0..1) as a percentage with one decimal."""
    if share is None:
        return "–"
    text = f"{share * 100:.1f}"
    return (text.replace(".", ",") if lang == "id" else text) + "%"


def dur(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
