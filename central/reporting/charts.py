"""Bar charts drawn on the server as SVG, for the report page and the PDF.

Why this exists: calls per hour of the day, calls by type and cases by kecamatan are read
at a glance rather than from a table. The page may load no script library (and the CSP
forbids inline styles), and the PDF embeds the same drawing through fpdf2, which reads
SVG presentation attributes but no stylesheet: so colours and sizes are attributes, and
each element also carries a class that static/regency_reports.css may restyle on screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from central.reporting.model import RegencyReport
from central.reporting.tables import call_type_label, kecamatan_label
from edge.i18n import translate

FONT = "Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1f2933", "#52606d", "#d9e2ec"
PALETTE = {"normal": "#1f7a4d", "information": "#2f6fb3", "ghost": "#7b8794", "prank": "#c0392b",
           "unclassified": "#b8c2cc"}
BAR = "#2f6fb3"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    key: str = ""  # a code that picks the colour (PALETTE) and the CSS class


def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power) if step * power >= 1 else 1
    return 10 * power


def _svg(width: int, height: int, title: str, body: list[str], css: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)} font-size="11">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, fill: str = INK,
          css: str = "label") -> str:
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}">{escape(text)}</text>')


def column_chart(bars: Sequence[Bar], title: str, every: int = 1, width: int = 640, height: int = 240) -> str:
    """Vertical bars with a value axis (e.g. calls per hour); every `every`-th label is written."""
    left, right, top, bottom = 48, 10, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((b.value for b in bars), default=0))
    body = []
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 6, y + 4, _num(value), "end", 10, MUTED, "axis"))
    slot = plot_w / max(len(bars), 1)
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / top_value
        x = left + i * slot + slot * 0.15
        body.append(f'<rect class="bar {bar.key}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{PALETTE.get(bar.key, BAR)}"><title>{escape(bar.label)}: '
                    f"{_num(bar.value)}</title></rect>")
        if i % every == 0:
            body.append(_text(x + slot * 0.35, height - bottom + 14, bar.label, "middle", 10, MUTED, "axis"))
    body.append(f'<line class="axis-line" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
                f'y2="{top + plot_h}" stroke="{MUTED}" stroke-width="1"/>')
    return _svg(width, height, title, body, "column-chart")


def bar_chart(bars: Sequence[Bar], title: str, width: int = 640, row: int = 22, label_width: int = 170,
              size: int = 11) -> str:
    """Horizontal bars with their label on the left and their value at the end (e.g. cases per kecamatan)."""
    top, value_room = 6, 60
    height = top * 2 + row * max(len(bars), 1)
    plot_w = width - label_width - value_room
    top_value = max((b.value for b in bars), default=0) or 1
    body = []
    for i, bar in enumerate(bars):
        y = top + i * row
        w = plot_w * bar.value / top_value
        label = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
        body.append(_text(label_width - 8, y + row * 0.68, label, "end", size))
        body.append(f'<rect class="bar {bar.key}" x="{label_width}" y="{y + row * 0.15:.1f}" width="{w:.1f}" '
                    f'height="{row * 0.7:.1f}" fill="{PALETTE.get(bar.key, BAR)}"><title>{escape(bar.label)}: '
                    f"{_num(bar.value)}</title></rect>")
        body.append(_text(label_width + w + 6, y + row * 0.68, _num(bar.value), "start", size, INK, "value"))
    return _svg(width, height, title, body, "bar-chart")


def report_charts(report: RegencyReport, lang: str = "id") -> dict[str, str]:
    """The report's three charts as SVG text: calls per hour (WIB), calls by type, cases by kecamatan."""
    hours = [Bar(h.label, h.count) for h in report.calls_by_hour]
    types = [Bar(call_type_label(c.key, lang), c.count, c.key) for c in report.calls_by_type
             if c.count or c.key != "unclassified"]
    kecamatan = [Bar(kecamatan_label(k.key, lang), k.count) for k in report.incidents_by_kecamatan]
    return {
        "hours": column_chart(hours, translate("Panggilan per jam (WIB)", lang), every=3 if len(hours) > 12 else 1),
        "types": bar_chart(types, translate("Panggilan per jenis", lang), width=400, row=24, label_width=140, size=13),
        "kecamatan": bar_chart(kecamatan, translate("Kasus per kecamatan", lang), width=400, row=24,
                               label_width=140, size=13),
    }
