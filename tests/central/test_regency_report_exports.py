"""The monthly report's exports: the PDF renders to pages with content (pdftoppm, from Debian's
poppler-utils), the XLSX opens with openpyxl and the CSV with the csv module, both holding
the report's own figures; the charts are well-formed SVG."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from central.reporting import build_report
from central.reporting.charts import report_charts
from central.reporting.csvfile import report_csv
from central.reporting.pdf import report_pdf
from central.reporting.periods import month_period
from central.reporting.xlsx import report_xlsx
from tests.central.test_regency_report_data import year_data, year_db  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def report(year_data):  # noqa: F811
    from edge.db import open_database
    from edge.models import db_proxy

    db = open_database(year_data[0])
    try:
        yield build_report(month_period(2025, 7))
    finally:
        db.close()
        db_proxy.initialize(None)


def _ink(image: Image.Image) -> float:
    """Share of pixels that are not (nearly) white."""
    grey = image.convert("L")
    histogram = grey.histogram()
    return sum(histogram[:200]) / (grey.width * grey.height)


def test_pdf_renders_pages_with_content(report, tmp_path: Path):
    assert shutil.which("pdftoppm"), "pdftoppm missing: apt-get install poppler-utils (make test installs it)"
    pdf = report_pdf(report)
    assert pdf.startswith(b"%PDF-")
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
                   check=True, capture_output=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        with Image.open(page) as image:
            assert image.width > 300 and image.height > 400
            assert _ink(image) > 0.01, f"{page.name} is blank"
    with Image.open(pages[0]) as first:
        # The first page holds the calls-per-hour chart: a band of blue bars (#2f6fb3).
        rgb = first.convert("RGB")
        data = rgb.tobytes()
        blue = sum(1 for i in range(0, len(data), 3) if data[i + 2] > 150 and data[i] < 90)
        assert blue > 500
        if os.environ.get("SIAGA112_UPDATE_SCREENSHOTS") == "1":
            rgb.save(REPO / "docs" / "screenshots" / "regency-report-pdf.png", optimize=True)


def test_pdf_text_has_the_figures(report, tmp_path: Path):
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext missing: apt-get install poppler-utils")
    (tmp_path / "r.pdf").write_bytes(report_pdf(report))
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    assert "Laporan Bulanan Pengaduan Layanan Siaga 112" in text and "Juli 2025" in text
    assert f"{report.calls_total:,}".replace(",", ".") in text
    assert "Lampiran II" in text  # the monthly report names the SOP it measures against


def test_xlsx_has_one_sheet_per_table_with_the_reports_figures(report):
    book = load_workbook(io.BytesIO(report_xlsx(report)), read_only=True)
    assert {"ringkasan", "panggilan_per_jenis", "panggilan_per_jam", "penelepon_teratas", "kasus_per_jenis",
            "kasus_per_kecamatan", "penugasan_per_instansi", "kepatuhan_sop", "per_posko",
            "kasus_terbuka"} == set(book.sheetnames)
    rows = list(book["panggilan_per_jenis"].iter_rows(min_row=2, values_only=True))
    assert {r[0]: r[2] for r in rows} == {c.key: c.count for c in report.calls_by_type}
    hours = list(book["panggilan_per_jam"].iter_rows(min_row=2, values_only=True))
    assert [r[2] for r in hours] == [h.count for h in report.calls_by_hour]
    sop = {r[0]: r for r in book["kepatuhan_sop"].iter_rows(min_row=2, values_only=True)}
    for step in report.compliance:
        assert sop[step.key][3:5] == (step.measured, step.within)
        assert sop[step.key][5] == (round(step.share * 100, 1) if step.share is not None else None)
    agencies = {r[0]: r[2] for r in book["penugasan_per_instansi"].iter_rows(min_row=2, values_only=True)}
    assert agencies == {a.code: a.sent for a in report.dispatches_by_agency}
    summary = {r[0]: r[2] for r in book["ringkasan"].iter_rows(min_row=2, values_only=True)}
    assert summary["panggilan"] == report.calls_total and summary["terbuka_akhir_periode"] == report.open_at_end
    assert len(list(book["kasus_terbuka"].iter_rows(min_row=2))) == len(report.open_cases)


def test_csv_holds_the_reports_figures(report):
    text = report_csv(report)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    value = {(r["bagian"], r["kunci"], r["ukuran"]): r["nilai"] for r in rows}
    for c in report.calls_by_type:
        assert int(value[("panggilan_per_jenis", c.key, "jumlah")]) == c.count
    for h in report.calls_by_hour:
        assert int(value[("panggilan_per_jam", h.label, "jumlah")]) == h.count
    for k in report.incidents_by_kecamatan:
        assert int(value[("kasus_per_kecamatan", k.key, "jumlah")]) == k.count
    for step in report.compliance:
        assert int(value[("kepatuhan_sop", step.key, "sesuai_standar")]) == step.within
    assert float(value[("ringkasan", "rasio_iseng", "nilai")]) == round(report.prank_ratio * 100, 1)
    for caller in report.top_callers:
        assert int(value[("penelepon_teratas", caller.number, "panggilan")]) == caller.calls


def test_charts_are_well_formed_svg_without_inline_style(report):
    charts = report_charts(report)
    for svg in charts.values():
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and "style" not in svg
    hours = ET.fromstring(charts["hours"])
    bars = hours.findall(f"{SVG}rect")
    assert len(bars) == 24
    heights = [float(b.get("height")) for b in bars]
    counts = [h.count for h in report.calls_by_hour]
    busiest = counts.index(max(counts))
    assert heights.index(max(heights)) == busiest and min(heights) < max(heights) / 3
    kecamatan = ET.fromstring(charts["kecamatan"])
    labels = [t.text for t in kecamatan.findall(f"{SVG}text") if t.get("class") == "label"]
    assert labels == [k.key for k in report.incidents_by_kecamatan]
