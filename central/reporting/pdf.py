"""The report as a PDF for the Bupati: key figures, the charts, then the tables.

Why this exists: the monthly complaint report and the quarterly monitoring and evaluation
of Perbup Bengkalis 48/2025 (Pasal 16-17: the head of Diskominfotik reports to the Bupati
through the regional secretary, at least once every three months) travel as documents.
fpdf2 lays the pages out and embeds the same SVG charts as the page; the standard PDF
fonts cover Latin-1, so the few typographic characters beyond it are replaced.
"""

from __future__ import annotations

import io
import re

from fpdf import FPDF
from fpdf.fonts import FontFace

from central.reporting.charts import report_charts
from central.reporting.fmt import dur, num, pct
from central.reporting.model import RegencyReport
from central.reporting.tables import call_type_label, kecamatan_label, posko_label
from edge.i18n import pick, translate
from edge.timeutil import format_wib

FONT = "helvetica"
PAGE_WIDTH = 180  # mm between the margins of A4 portrait
OPEN_CASES_PRINTED = 20
_LATIN1 = str.maketrans({"–": "-", "—": "-", "…": "...", "≥": ">=", "≤": "<=", "·": "-", "’": "'", "“": '"',
                         "”": '"'})
_TITLE = re.compile(r"<title>[^<]*</title>")
_SIZE = re.compile(r'<svg [^>]*width="(\d+)" height="(\d+)"')
HEADING = FontFace(emphasis="BOLD", fill_color=(230, 236, 242))


def _(text: str) -> str:
    return text


TITLES = {
    "month": _("Laporan Bulanan Pengaduan Layanan Siaga 112"),
    "quarter": _("Laporan Monitoring dan Evaluasi Triwulanan Layanan Siaga 112"),
    "year": _("Laporan Tahunan Layanan Siaga 112"),
    "custom": _("Laporan Layanan Siaga 112"),
}
BASIS = {
    "quarter": _(
        "Dasar: Perbup Bengkalis 48/2025 Pasal 16-17, monitoring dan evaluasi paling sedikit sekali dalam 3 bulan."),
    "month": _(
        "Laporan pengaduan bulanan: panggilan, kasus, penugasan instansi, kepatuhan waktu SOP (Lampiran II)."),
}


def latin1(text: str) -> str:
    return str(text).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=15)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, size=7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, latin1(f"{self.footer_text} - {self.page_no()}/{{nb}}"), align="C")


def _heading(pdf: FPDF, text: str, need: float = 30) -> None:
    """A section title, on a new page when less than `need` mm (title and first lines) are left."""
    if pdf.get_y() + need > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(31, 41, 51)
    pdf.cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple[int, ...], numeric_from: int = 1) -> None:
    align = tuple("LEFT" if i < numeric_from else "RIGHT" for i in range(len(widths)))
    with pdf.table(col_widths=widths, text_align=align, headings_style=HEADING, line_height=4.6,
                   width=min(PAGE_WIDTH, sum(widths)), align="LEFT") as table:
        for values in [header, *rows]:
            row = table.row()
            for value in values:
                row.cell(latin1(value))


def _chart(pdf: FPDF, svg: str, width: float) -> None:
    # fpdf2 draws shapes and text but not <title> (the tooltips on screen): leave those out.
    pdf.image(io.BytesIO(_TITLE.sub("", svg).encode("utf-8")), w=width)


def _chart_height(svg: str, width: float) -> float:
    match = _SIZE.search(svg)
    return float(match.group(2)) / float(match.group(1)) * width if match else 60


def report_pdf(report: RegencyReport, lang: str = "id") -> bytes:
    r = report

    def _(text: str) -> str:  # noqa: F811 - here: translated at once, into the report's language
        return translate(text, lang)

    title = _(TITLES.get(r.period.kind, TITLES["custom"]))
    pdf = _Document(f"{title} - {r.period.label(lang)} - {posko_label(r.posko, lang)}")
    pdf.set_title(latin1(f"{title} {r.period.label(lang)}"))
    pdf.set_author("Siaga 112")
    pdf.add_page()
    pdf.set_font(FONT, size=9)
    pdf.set_text_color(82, 96, 109)
    pdf.cell(0, 5, latin1(f"{r.regency} - {_('Dinas Komunikasi, Informatika dan Statistik')}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 15)
    pdf.set_text_color(31, 41, 51)
    pdf.multi_cell(0, 7, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 6, latin1(f"{_('Periode')}: {r.period.label(lang)}  ({format_wib(r.period.start_utc, '%d-%m-%Y')} - "
                          f"{format_wib(r.period.end_utc, '%d-%m-%Y %H:%M')})"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, latin1(f"{_('Posko')}: {posko_label(r.posko, lang)}   {_('Dibuat')}: "
                          f"{format_wib(r.generated_at, '%d-%m-%Y %H:%M')}"), new_x="LMARGIN", new_y="NEXT")
    if r.period.kind in BASIS:
        pdf.set_font(FONT, "I", 8)
        pdf.multi_cell(0, 4, latin1(_(BASIS[r.period.kind])), new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, _("Ringkasan"))
    _table(pdf, [_("Ukuran"), _("Nilai")], [
        [_("Total panggilan"), num(r.calls_total, lang)],
        [_("Tidak perlu ditindaklanjuti (informasi, kosong, iseng)"), pct(r.non_actionable_share, lang)],
        [_("Rasio panggilan iseng"), pct(r.prank_ratio, lang)],
        [_("Kasus tercatat"), num(r.incidents_total, lang)],
        [_("Penugasan instansi"), num(r.dispatches_total, lang)],
        [_("Waktu respons (panggilan sampai instansi di lokasi): median / persentil 90"),
         f"{dur(r.response.median_seconds)} / {dur(r.response.p90_seconds)}"],
        [_("Kasus masih terbuka di akhir periode"), num(r.open_at_end, lang)],
    ], (130, 40))

    charts = report_charts(r, lang)
    for key, title, width in (("hours", "Panggilan per jam (WIB)", PAGE_WIDTH),
                              ("types", "Panggilan per jenis", PAGE_WIDTH * 0.55)):
        _heading(pdf, _(title), need=12 + _chart_height(charts[key], width))
        _chart(pdf, charts[key], width)
    _table(pdf, [_("Jenis panggilan"), _("Jumlah")],
           [[call_type_label(c.key, lang), num(c.count, lang)] for c in r.calls_by_type], (100, 30))
    _heading(pdf, _("Kasus per kecamatan"), need=12 + _chart_height(charts["kecamatan"], PAGE_WIDTH * 0.55))
    _chart(pdf, charts["kecamatan"], PAGE_WIDTH * 0.55)

    _heading(pdf, _("Kasus per jenis kejadian"))
    _table(pdf, [_("Jenis kejadian"), _("Jumlah")],
           [[f"{x.code}. {pick(x.name_id, x.name_en, lang)}", num(x.count, lang)] for x in r.incidents_by_type],
           (150, 30))
    _heading(pdf, _("Penugasan per instansi"))
    _table(pdf, [_("Instansi"), _("Dikirim"), _("Dikonfirmasi"), _("Selesai")],
           [[pick(a.name, a.name_en, lang), num(a.sent, lang), num(a.acknowledged, lang), num(a.finished, lang)]
            for a in r.dispatches_by_agency], (105, 25, 25, 25))
    _heading(pdf, _("Kepatuhan waktu SOP"))
    _table(pdf, [_("Langkah"), _("Standar"), _("Terukur"), _("Sesuai"), _("Median"), _("P90")],
           [[f"{c.step}. {pick(c.name_id, c.name_en, lang)}", dur(c.standard_seconds), num(c.measured, lang),
             pct(c.share, lang), dur(c.median_seconds), dur(c.p90_seconds)] for c in r.compliance],
           (90, 18, 18, 18, 18, 18))
    _heading(pdf, _("Per posko"))
    _table(pdf, [_("Posko"), _("Panggilan"), _("Iseng"), _("Kasus"), _("Terbuka"), _("Respons median")],
           [[p.node, num(p.calls, lang), pct(p.prank_ratio, lang), num(p.incidents, lang), num(p.open_at_end, lang),
             dur(p.response.median_seconds)] for p in r.per_posko], (55, 25, 25, 25, 25, 25))
    _heading(pdf, _("Nomor penelepon terbanyak"))
    _table(pdf, [_("Nomor"), _("Panggilan"), _("Iseng")],
           [[c.number, num(c.calls, lang), num(c.pranks, lang)] for c in r.top_callers], (60, 30, 30))
    _heading(pdf, _("Kasus masih terbuka di akhir periode"))
    if r.open_cases:
        _table(pdf, [_("No. kasus"), _("Jenis kejadian"), _("Kecamatan"), _("Dicatat (WIB)")],
               [[o.case_no, pick(o.type_name_id, o.type_name_en, lang), kecamatan_label(o.kecamatan, lang),
                 format_wib(o.recorded_at, "%d-%m-%Y %H:%M")] for o in r.open_cases[:OPEN_CASES_PRINTED]],
               (50, 65, 30, 35), numeric_from=4)
    else:
        pdf.cell(0, 5, latin1(_("Tidak ada.")), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
