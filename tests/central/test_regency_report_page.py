"""The report page and its exports on a central node, and the report on cases recorded
through the real services (the same code paths a posko runs), not only on synthetic rows."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from central.reporting import build_report
from central.reporting.periods import month_period, parse_report_period, quarter_period, span
from edge.services.calls import classify_call, start_call
from edge.services.dispatches import update_status
from edge.services.errors import ValidationError
from edge.services.incidents import close_incident, create_incident, dispatch_agencies
from edge.services.users import get_user
from edge.timeutil import wib_today


def record_cases() -> None:
    """Six calls at this node: two pranks from one number, a ghost, an information call, a
    traffic accident handled and closed by Damkar and Polres, a medical case still open."""
    op = get_user("operator")
    for number, call_type in (("081100000001", "prank"), ("081100000001", "prank"), ("", "ghost"),
                              ("081300000003", "information")):
        classify_call(op, start_call(op, {"caller_number": number}).id, {"call_type": call_type})
    call = start_call(op, {"caller_number": "081200000002"})
    accident = create_incident(op, {"incident_type": 4, "kecamatan": "Bengkalis", "desa": "Senggoro",
                                    "victims_count": 1, "victims_condition": "injured"}, call_id=call.id).incident
    for dispatch in dispatch_agencies(op, accident.id, ["DAMKAR", "POLRES"]):
        agency = get_user("damkar" if dispatch.agency.code == "DAMKAR" else "polres")
        for status in ("acknowledged", "en_route", "on_scene"):
            update_status(agency, dispatch.id, {"status": status})
        update_status(agency, dispatch.id, {"status": "finished", "report": "Selesai"})
    close_incident(op, accident.id, {"final_report": "Korban dibawa ke RSUD"})
    call = start_call(op, {"caller_number": "081500000005"})
    create_incident(op, {"incident_type": 1, "kecamatan": "Mandau", "desa": "Air Jamban"}, call_id=call.id)


def today_period():
    today = wib_today()
    return span("custom", today - timedelta(days=1), today + timedelta(days=1))


def test_report_on_cases_recorded_through_the_services(node):
    record_cases()
    r = build_report(today_period())
    assert {c.key: c.count for c in r.calls_by_type} == {"normal": 2, "information": 1, "ghost": 1, "prank": 2,
                                                          "unclassified": 0}
    assert r.prank_ratio == pytest.approx(2 / 6)
    assert [(c.number, c.calls, c.pranks) for c in r.top_callers][0] == ("081100000001", 2, 2)
    assert {t.code: t.count for t in r.incidents_by_type} == {1: 1, 4: 1}
    assert {k.key: k.count for k in r.incidents_by_kecamatan} == {"Bengkalis": 1, "Mandau": 1}
    assert {(a.code, a.sent, a.acknowledged, a.finished) for a in r.dispatches_by_agency} == {
        ("DAMKAR", 1, 1, 1), ("POLRES", 1, 1, 1)}
    steps = {c.key: c for c in r.compliance}
    assert (steps["receive"].measured, steps["receive"].within) == (2, 2)
    assert (steps["contact"].measured, steps["contact"].within, steps["contact"].running) == (1, 1, 1)
    assert (steps["confirm"].measured, steps["close"].measured) == (1, 1)
    assert r.response.measured == 1 and r.response.median_seconds < 60
    assert r.open_at_end == 1 and r.open_cases[0].incident_type == 1
    assert [(p.node, p.calls, p.incidents, p.open_at_end) for p in r.per_posko] == [("central", 6, 2, 1)]


def test_page_shows_the_figures_and_the_charts_and_exports_them(node, login):
    record_cases()
    today = wib_today()
    html = login("pusat").get(f"/pusat/laporan/?period=month&month={today:%Y-%m}").get_data(as_text=True)
    assert 'id="stat-calls">6<' in html
    assert 'id="stat-prank-ratio">33,3%<' in html
    assert html.count("<svg") == 3 and 'class="chart column-chart"' in html
    assert 'data-key="Mandau"' in html and "laporan.pdf?" in html and "laporan.xlsx?" in html
    # Central staff count the repeat callers without seeing their numbers (edge.services.privacy).
    assert "081100000001" not in html and "0811****001" in html
    assert "081100000001" in login("supervisor").get(f"/pusat/laporan/?period=month&month={today:%Y-%m}").get_data(
        as_text=True)
    assert 'style="' not in html.split("<main", 1)[-1]  # CSP: no inline style in the report
    # The export links download the same figures.
    client = login("pusat")
    args = f"period=month&month={today:%Y-%m}"
    response = client.get(f"/pusat/laporan/laporan.xlsx?{args}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert {r[0]: r[2] for r in book["panggilan_per_jenis"].iter_rows(min_row=2, values_only=True)}["prank"] == 2
    response = client.get(f"/pusat/laporan/laporan.csv?{args}&posko=central")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    assert {r["kunci"]: r["nilai"] for r in rows if r["bagian"] == "kasus_per_kecamatan"} == {"Bengkalis": "1",
                                                                                             "Mandau": "1"}
    response = client.get(f"/pusat/laporan/laporan.pdf?{args}")
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")


def test_who_may_read_the_regency_report(login):
    for user, status in (("pusat", 200), ("supervisor", 200), ("operator", 403), ("damkar", 403)):
        client = login(user)
        assert client.get("/pusat/laporan/").status_code == status, user
        assert client.get("/pusat/laporan/laporan.csv").status_code == status, user


BAD = (("period=month&month=2025-13", "month"), ("period=quarter&quarter=2025-Q5", "quarter"),
       ("period=custom&from=2025-07-10&to=2025-07-01", "to"), ("period=custom&from=2025-07-01", "to"),
       ("period=year&year=1999", "year"), ("posko=posko-nowhere", "posko"))


def test_bad_parameters_are_named(login):
    client = login("pusat")
    for query, field in BAD:
        response = client.get(f"/pusat/laporan/?{query}")
        assert response.status_code == 422, query
        assert re.search(f'name="{field}"[^>]*aria-invalid="true"', response.get_data(as_text=True)), query
        assert client.get(f"/pusat/laporan/laporan.pdf?{query}").status_code == 422
    assert client.get("/pusat/laporan/?period=week").status_code == 422


def test_periods_are_wib_months_quarters_and_days():
    july = month_period(2025, 7)
    assert (str(july.start_utc), str(july.end_utc)) == ("2025-06-30 17:00:00", "2025-07-31 17:00:00")
    assert (july.slug, july.label("id"), july.label("en")) == ("2025-07", "Juli 2025", "July 2025")
    q4 = quarter_period(2025, 4)
    assert (q4.first_day, q4.last_day, q4.label("id")) == (date(2025, 10, 1), date(2025, 12, 31), "Triwulan IV 2025")
    assert parse_report_period({"period": "year", "year": "2025"}).days == 365
    assert parse_report_period({}, today=date(2026, 2, 10)).slug == "2026-02"
    assert parse_report_period({"period": "quarter"}, today=date(2026, 2, 10)).slug == "2026-Q1"
    custom = parse_report_period({"period": "custom", "from": "2025-07-01", "to": "2025-07-15"})
    assert (custom.days, custom.slug) == (15, "2025-07-01_2025-07-15")
    with pytest.raises(ValidationError) as err:
        parse_report_period({"period": "custom", "from": "2020-01-01", "to": "2025-01-01"})
    assert set(err.value.errors) == {"to"}


def test_page_and_pdf_in_english(node, login):
    record_cases()
    client = login("pusat")
    client.post("/lang/en", {"next": "/pusat/laporan/"})
    month = f"period=month&month={wib_today():%Y-%m}"
    html = client.get(f"/pusat/laporan/?{month}").get_data(as_text=True)
    assert "Regency reports" in html and "Download PDF (report to the Regent)" in html
    assert 'id="stat-prank-ratio">33.3%<' in html
    pdf = client.get(f"/pusat/laporan/laporan.pdf?{month}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    csv_text = client.get(f"/pusat/laporan/laporan.csv?{month}").get_data(as_text=True)
    assert "Prank call ratio (%)" in csv_text
