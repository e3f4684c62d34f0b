"""Posko reports: figures of a seeded day checked against independent counts, shifts, CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest

from edge.models import Agency, Call, Dispatch, Incident, db_proxy
from edge.services import calls as call_svc
from edge.services import dispatches as dispatch_svc
from edge.services import incidents as incident_svc
from edge.services.errors import ValidationError
from edge.services.reports import parse_period, percentile, period_for, shift_summary
from edge.services.users import get_user
from edge.timeutil import wib_today

DAY = date(2025, 8, 14)
NEXT = DAY + timedelta(days=1)
PREV = DAY - timedelta(days=1)


def wib(hh: int, mm: int = 0, ss: int = 0, day: date = DAY) -> datetime:
    """Naive UTC of a WIB wall-clock time, written out by hand (WIB = UTC+7, no DST)."""
    return datetime(day.year, day.month, day.day, hh, mm, ss) - timedelta(hours=7)


def _sql_stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _sql(query: str, *params) -> list[tuple]:
    return list(db_proxy.execute_sql(query, params).fetchall())


# --- seeding through the real services, then timestamps set directly ------------------


def _plain_call(user, number: str, rung: datetime, call_type: str | None) -> Call:
    call = call_svc.start_call(user, {"caller_number": number})
    if call_type:
        call_svc.classify_call(user, call.id, {"call_type": call_type})
    Call.update(rung_at=rung, answered_at=rung + timedelta(seconds=5)).where(Call.id == call.id).execute()
    return call


def _case(user, number: str, itype: int, rung: datetime, receive: int, record: int, **fields) -> Incident:
    call = call_svc.start_call(user, {"caller_number": number})
    data = {"incident_type": str(itype), "desa": "Pematang Duku", "kecamatan": "Bengkalis", **fields}
    inc = incident_svc.create_incident(user, data, call_id=call.id).incident
    answered = rung + timedelta(seconds=receive)
    Call.update(rung_at=rung, answered_at=answered).where(Call.id == call.id).execute()
    Incident.update(recorded_at=answered + timedelta(seconds=record)).where(Incident.id == inc.id).execute()
    return Incident.get_by_id(inc.id)


def _dispatch(user, inc: Incident, codes: list[str], after: int) -> None:
    incident_svc.dispatch_agencies(user, inc.id, codes)
    Dispatch.update(sent_at=inc.recorded_at + timedelta(seconds=after)).where(Dispatch.incident == inc.id).execute()


def _ack(agency_user, inc: Incident, code: str, after: int) -> None:
    d = Dispatch.select().join(Agency).where((Dispatch.incident == inc.id) & (Agency.code == code)).get()
    dispatch_svc.update_status(agency_user, d.id, {"status": "acknowledged"})
    at = d.sent_at + timedelta(seconds=after)
    Dispatch.update(received_at=at, acknowledged_at=at).where(Dispatch.id == d.id).execute()


@pytest.fixture
def seeded(node) -> dict[str, Incident]:
    """One day (2025-08-14 WIB) of calls, five cases of two types, dispatches and acknowledgements.

    Step durations (seconds) by case        receive record contact confirm (slowest agency)
      A fire    08:00  DAMKAR+POLRES          30     100     60     400 (DAMKAR 100, POLRES 400)
      B fire    08:30  DAMKAR                 60     200    130     200
      C traffic 09:10  DAMKAR                 90     170    120     - (not acknowledged)
      D fire    10:00  POLRES                150     180     30      50
      E traffic 16:00  (no dispatch)         200     400      -       -
    """
    op, damkar, polres = get_user("operator"), get_user("damkar"), get_user("polres")
    cases = {
        "A": _case(op, "0811000001", 3, wib(8), 30, 100),
        "B": _case(op, "0811000002", 3, wib(8, 30), 60, 200),
        "C": _case(op, "0811000003", 4, wib(9, 10), 90, 170),
        "D": _case(op, "0811000004", 3, wib(10), 150, 180),
        "E": _case(op, "0811000005", 4, wib(16), 200, 400),
    }
    _dispatch(op, cases["A"], ["DAMKAR", "POLRES"], 60)
    _dispatch(op, cases["B"], ["DAMKAR"], 130)
    _dispatch(op, cases["C"], ["DAMKAR"], 120)
    _dispatch(op, cases["D"], ["POLRES"], 30)
    _ack(damkar, cases["A"], "DAMKAR", 100)
    _ack(polres, cases["A"], "POLRES", 400)
    _ack(damkar, cases["B"], "DAMKAR", 200)
    _ack(polres, cases["D"], "POLRES", 50)
    incident_svc.close_incident(op, cases["D"].id, {"final_report": "Api padam"})
    for number, rung, kind in (
        ("0812000001", wib(9, 5), "information"),
        ("0812000002", wib(20), "information"),
        ("0813000001", wib(6, 59, 59), "ghost"),  # before 07:00: yesterday's night shift
        ("0813000001", wib(12), "ghost"),
        ("0812999", wib(10, 15), "prank"),
        ("0812999", wib(10, 20), "prank"),
        ("0812999", wib(23, 30), "prank"),  # tonight's night shift, still this date
        ("0814000001", wib(11), None),  # answered, never classified
        ("0812999", wib(22, day=PREV), "prank"),  # the day before: outside
        ("0812000003", wib(0, 30, day=NEXT), "information"),  # the day after: outside the day
    ):
        _plain_call(op, number, rung, kind)
    return {k: Incident.get_by_id(v.id) for k, v in cases.items()}


# --- figures against independent counts ----------------------------------------------

PERIODS = {
    # shift -> hand-written UTC bounds of 2025-08-14 WIB
    "all": (datetime(2025, 8, 13, 17), datetime(2025, 8, 14, 17)),
    "pagi": (datetime(2025, 8, 14, 0), datetime(2025, 8, 14, 8)),
    "siang": (datetime(2025, 8, 14, 8), datetime(2025, 8, 14, 16)),
    "malam": (datetime(2025, 8, 14, 16), datetime(2025, 8, 15, 0)),
}


def test_summary_matches_independent_sql_counts(seeded):
    for shift in PERIODS:
        _check_against_sql(shift)


def _check_against_sql(shift: str) -> None:
    start, end = PERIODS[shift]
    period = period_for(DAY, shift)
    assert (period.start_utc, period.end_utc) == (start, end)
    s = shift_summary(period.start_utc, period.end_utc)
    lo, hi = _sql_stamp(start), _sql_stamp(end)

    by_type = dict(_sql("SELECT COALESCE(call_type, 'unclassified'), COUNT(*) FROM call "
                        "WHERE rung_at >= ? AND rung_at < ? GROUP BY 1", lo, hi))
    assert {c.key: c.count for c in s.calls_by_type if c.count} == by_type
    assert s.calls_total == sum(by_type.values())
    non_actionable = sum(by_type.get(k, 0) for k in ("information", "ghost", "prank"))
    classified = s.calls_total - by_type.get("unclassified", 0)
    assert s.calls_non_actionable == non_actionable
    assert s.non_actionable_share == (non_actionable / classified if classified else None)

    per_hour = dict(_sql("SELECT strftime('%H:00', rung_at, '+7 hours'), COUNT(*) FROM call "
                         "WHERE rung_at >= ? AND rung_at < ? GROUP BY 1", lo, hi))
    assert {h.label: h.count for h in s.calls_per_hour if h.count} == per_hour
    assert len(s.calls_per_hour) == (24 if shift == "all" else 8)

    inc_types = dict(_sql("SELECT incident_type, COUNT(*) FROM incident "
                          "WHERE recorded_at >= ? AND recorded_at < ? GROUP BY 1", lo, hi))
    assert {t.code: t.count for t in s.incidents_by_type} == inc_types
    statuses = dict(_sql("SELECT status, COUNT(*) FROM incident "
                         "WHERE recorded_at >= ? AND recorded_at < ? GROUP BY 1", lo, hi))
    assert {st.key: st.count for st in s.incidents_by_status if st.count} == statuses

    agencies = {code: (n, acked) for code, n, acked in _sql(
        "SELECT a.code, COUNT(*), COUNT(d.acknowledged_at) FROM dispatch d JOIN agency a ON a.id = d.agency_id "
        "WHERE d.sent_at >= ? AND d.sent_at < ? GROUP BY a.code", lo, hi)}
    assert {a.code: (a.sent, a.acknowledged) for a in s.dispatches_by_agency} == agencies

    callers = _sql("SELECT caller_number, COUNT(*), SUM(COALESCE(call_type, '') = 'prank') FROM call "
                   "WHERE rung_at >= ? AND rung_at < ? AND caller_number != '' GROUP BY 1 "
                   "ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10", lo, hi)
    assert [(c.number, c.calls, c.pranks) for c in s.top_callers] == [(n, c, p) for n, c, p in callers]


def test_seeded_day_figures_by_hand(seeded):
    """The same day, counted by hand from the seed list (guards the SQL above against a bad seed)."""
    s = shift_summary(*PERIODS["all"])
    assert {c.key: c.count for c in s.calls_by_type} == {
        "normal": 5, "information": 2, "ghost": 2, "prank": 3, "unclassified": 1}
    assert round(s.non_actionable_share, 3) == round(7 / 12, 3)
    assert {t.code: t.count for t in s.incidents_by_type} == {3: 3, 4: 2}
    assert s.incidents_by_type[0].name_id == "Kebakaran rumah, kantor, hutan dan lahan"
    assert {a.code: (a.sent, a.acknowledged) for a in s.dispatches_by_agency} == {"DAMKAR": (3, 2), "POLRES": (2, 2)}
    assert (s.top_callers[0].number, s.top_callers[0].calls, s.top_callers[0].pranks) == ("0812999", 3, 3)
    assert {st.key: st.count for st in s.incidents_by_status}["closed"] == 1
    pagi = shift_summary(*PERIODS["pagi"])
    assert pagi.calls_total == 9 and pagi.incidents_total == 4


def test_sop_compliance_share_median_and_p90(seeded):
    s = shift_summary(*PERIODS["all"])
    got = {c.key: (c.measured, c.within, c.median_seconds, c.p90_seconds, c.running) for c in s.compliance}
    # receive: 30 60 90 150 200 against 120 s; record: 100 170 180 200 400 against 180 s
    assert got["receive"] == (5, 3, 90, 200, 0)
    assert got["record"] == (5, 3, 180, 400, 0)
    # contact: 30 60 120 130 against 120 s; E never dispatched, so still running
    assert got["contact"] == (4, 3, 90, 130, 1)
    # confirm: slowest agency per case, 50 200 400 against 300 s; C waits for DAMKAR
    assert got["confirm"] == (3, 2, 200, 400, 1)
    assert got["hospital"] == (0, 0, None, None, 0)
    receive = next(c for c in s.compliance if c.key == "receive")
    assert receive.share == 0.6 and receive.standard_seconds == 120
    assert [c.key for c in s.compliance] == ["receive", "record", "contact", "confirm", "hospital",
                                             "hospital_report", "coordinate", "close"]
    # Only cases recorded in the shift count: siang holds case E alone.
    siang = {c.key: c for c in shift_summary(*PERIODS["siang"]).compliance}
    assert (siang["receive"].measured, siang["receive"].median_seconds) == (1, 200)


def test_percentile_is_nearest_rank():
    assert percentile([], 90) is None
    assert percentile([7], 90) == 7
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile([400, 50, 200], 90) == 400
    assert percentile(list(range(1, 21)), 90) == 18


# --- shift boundaries ------------------------------------------------------------------


def test_shift_boundaries_in_wib(node, login):
    op = get_user("operator")
    edges = {
        "0810000001": wib(6, 59, 59),  # yesterday's malam
        "0810000002": wib(7),  # pagi
        "0810000003": wib(14, 59, 59),  # pagi
        "0810000004": wib(15),  # siang
        "0810000005": wib(22, 59, 59),  # siang
        "0810000006": wib(23),  # malam
        "0810000007": wib(6, 59, 59, day=NEXT),  # malam (until 07:00 the next morning)
        "0810000008": wib(7, day=NEXT),  # the next day's pagi
    }
    for number, rung in edges.items():
        _plain_call(op, number, rung, "information")

    def numbers(day: date, shift: str) -> set[str]:
        period = period_for(day, shift)
        return {c.number for c in shift_summary(period.start_utc, period.end_utc).top_callers}

    assert numbers(PREV, "malam") == {"0810000001"}
    assert numbers(DAY, "pagi") == {"0810000002", "0810000003"}
    assert numbers(DAY, "siang") == {"0810000004", "0810000005"}
    assert numbers(DAY, "malam") == {"0810000006", "0810000007"}
    assert numbers(DAY, "all") == {f"081000000{i}" for i in range(1, 7)}
    # The page agrees: 06:59:59 is in the night shift of the 13th, 07:00 in the morning of the 14th.
    page = login("supervisor").get("/reports/shift?date=2025-08-13&shift=malam").get_data(as_text=True)
    assert 'data-key="0810000001"' in page and 'data-key="0810000002"' not in page
    assert re.search(r'<tr data-key="06:00"><td>06:00</td><td class="num">1</td>', page)


# --- the page ---------------------------------------------------------------------------


def test_report_page_shows_the_figures(seeded, login):
    response = login("operator").get("/reports/shift?date=2025-08-14&shift=all")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'id="stat-calls">13<', page)
    assert re.search(r'id="stat-incidents">5<', page)
    assert re.search(r'id="stat-dispatches">5<', page)
    assert "58,3%" in page  # 7 of 12 classified calls, Indonesian decimal comma
    assert re.search(r'<tr data-key="prank"><td>Iseng</td><td class="num">3</td>', page)
    assert re.search(r'<tr data-key="3"><td>3\. Kebakaran rumah, kantor, hutan dan lahan</td><td class="num">3</td>',
                     page)
    receive_row = re.search(r'<tr data-key="receive">(.*?)</tr>', page, re.S).group(1)
    assert "60,0%" in receive_row and "1:30" in receive_row and "3:20" in receive_row
    assert 'href="/reports/shift.csv?date=2025-08-14&amp;shift=all"' in page
    assert 'style="' not in page and "<script>" not in page


def test_report_roles(seeded, login):
    assert login("pusat").get("/reports/shift").status_code == 200
    assert login("damkar").get("/reports/shift").status_code == 403
    assert login("damkar").get("/reports/shift.csv").status_code == 403


def test_default_period_is_today_in_wib(node, login):
    page = login("operator").get("/reports/shift").get_data(as_text=True)
    assert f'name="date" value="{wib_today().isoformat()}"' in page
    assert '<option value="all" selected>' in page
    assert parse_period({}, today=DAY) == period_for(DAY, "all")


BAD_QUERIES = (
    "date=2025-13-40", "date=kemarin", "date=14-08-2025", "date=20250814", "shift=sore",
    "date=9999-12-31&shift=malam", "date=1999-12-31", "date=2025-08-14&shift=%00",
)


@pytest.mark.parametrize("path", ["/reports/shift", "/reports/shift.csv", "/reports/incidents.csv"])
def test_bad_parameters_give_422_with_a_message(node, login, path):
    op = login("operator")
    for query in BAD_QUERIES:
        response = op.get(f"{path}?{query}")
        assert response.status_code == 422, query
        page = response.get_data(as_text=True)
        assert "Parameter laporan tidak valid" in page, query
        assert re.search(r"Tanggal tidak valid|Pilihan tidak dikenal|antara tahun 2000", page), query


def test_parse_period_names_each_bad_field():
    with pytest.raises(ValidationError) as info:
        parse_period({"date": "2025-02-30", "shift": "subuh"})
    assert set(info.value.errors) == {"date", "shift"}


# --- CSV --------------------------------------------------------------------------------


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_summary_csv_has_the_same_numbers(seeded, login):
    response = login("supervisor").get("/reports/shift.csv?date=2025-08-14&shift=pagi")
    assert response.headers["Content-Disposition"] == "attachment; filename=laporan-2025-08-14-pagi.csv"
    rows = _csv_rows(response)
    value = {(r["bagian"], r["kunci"], r["ukuran"]): r["nilai"] for r in rows}
    s = shift_summary(*PERIODS["pagi"])
    sections = {r["bagian"] for r in rows}
    assert sections == {"periode", "panggilan_per_jenis", "panggilan_per_jam", "kasus_per_jenis",
                        "kasus_per_status", "penugasan_per_instansi", "kepatuhan_sop", "penelepon_teratas"}
    assert value[("periode", "shift", "")] == "pagi"
    assert value[("periode", "mulai", "")] == "2025-08-14 07:00:00"
    for c in s.calls_by_type:
        assert value[("panggilan_per_jenis", c.key, "jumlah")] == str(c.count)
    assert value[("panggilan_per_jenis", "total", "jumlah")] == "9"
    assert value[("panggilan_per_jenis", "tidak_ditindaklanjuti", "jumlah")] == "4"  # info, ghost, 2 pranks
    assert value[("panggilan_per_jenis", "tidak_ditindaklanjuti", "persen_dari_terklasifikasi")] == "50.0"
    assert value[("panggilan_per_jam", "10:00", "jumlah")] == "3"  # case D, two pranks
    assert value[("kasus_per_jenis", "3", "jumlah")] == "3" and value[("kasus_per_jenis", "4", "jumlah")] == "1"
    assert value[("penugasan_per_instansi", "DAMKAR", "dikirim")] == "3"
    assert value[("penugasan_per_instansi", "POLRES", "dikonfirmasi")] == "2"
    # pagi holds cases A-D: receive 30 60 90 150 -> 3 of 4 within 120 s, median 75, p90 150
    assert value[("kepatuhan_sop", "receive", "terukur")] == "4"
    assert value[("kepatuhan_sop", "receive", "sesuai_standar")] == "3"
    assert value[("kepatuhan_sop", "receive", "persen_sesuai")] == "75.0"
    assert value[("kepatuhan_sop", "receive", "median_detik")] == "75.0"
    assert value[("kepatuhan_sop", "receive", "p90_detik")] == "150.0"
    assert value[("kepatuhan_sop", "hospital", "median_detik")] == ""
    assert value[("penelepon_teratas", "0812999", "iseng")] == "2"


def test_incidents_csv_lists_every_case_of_the_period(seeded, login):
    op = login("operator")
    response = op.get("/reports/incidents.csv?date=2025-08-14&shift=all")
    assert response.headers["Content-Disposition"] == "attachment; filename=kasus-2025-08-14-all.csv"
    rows = _csv_rows(response)
    expected = [r[0] for r in _sql("SELECT case_no FROM incident WHERE recorded_at >= ? AND recorded_at < ? "
                                   "ORDER BY recorded_at", *map(_sql_stamp, PERIODS["all"]))]
    assert [r["no_kasus"] for r in rows] == expected and len(rows) == 5
    a = next(r for r in rows if r["no_kasus"] == seeded["A"].case_no)
    assert a["dicatat_wib"] == "2025-08-14 08:02:10"  # 08:00 + 30 s + 100 s
    assert (a["kode_jenis"], a["jenis"], a["kecamatan"], a["desa"]) == (
        "3", "Kebakaran rumah, kantor, hutan dan lahan", "Bengkalis", "Pematang Duku")
    assert a["instansi"] == "DAMKAR POLRES" and a["prioritas"] == "1"
    assert (a["durasi_receive_detik"], a["durasi_record_detik"], a["durasi_contact_detik"],
            a["durasi_confirm_detik"]) == ("30", "100", "60", "400")
    assert a["durasi_close_detik"] == "" and a["ditutup_wib"] == ""
    d = next(r for r in rows if r["no_kasus"] == seeded["D"].case_no)
    assert d["status"] == "closed" and d["ditutup_wib"]
    e = next(r for r in rows if r["no_kasus"] == seeded["E"].case_no)
    assert e["instansi"] == "" and e["durasi_contact_detik"] == ""
    pagi = _csv_rows(op.get("/reports/incidents.csv?date=2025-08-14&shift=pagi"))
    assert len(pagi) == 4


def test_csv_cells_cannot_start_a_formula(node, login):
    op = get_user("operator")
    _case(op, "0811000009", 3, wib(9), 10, 10, desa="=HYPERLINK(\"http://x\")", kecamatan="@SUM(1)")
    rows = _csv_rows(login("operator").get("/reports/incidents.csv?date=2025-08-14"))
    assert rows[0]["desa"] == "'=HYPERLINK(\"http://x\")" and rows[0]["kecamatan"] == "'@SUM(1)"
