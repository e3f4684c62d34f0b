"""Central's report page in a real Chromium, on the year of synthetic data: pick a month,
see its figures and its charts, and find the export links."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.db import database_path
from tests.browser.conftest import login_page
from tests.central.test_regency_report_data import year_dataset
from tests.conftest import Node

pytestmark = pytest.mark.browser


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    """The served node: central with a year of synthetic data (built once per session)."""
    data_dir, _summary = year_dataset(tmp_path_factory)
    return Node(data_dir, "")


def _july_calls(data_dir: Path) -> int:
    conn = sqlite3.connect(database_path(data_dir))
    try:
        return conn.execute("SELECT COUNT(*) FROM call WHERE rung_at >= '2025-06-30 17:00:00' "
                            "AND rung_at < '2025-07-31 17:00:00'").fetchone()[0]
    finally:
        conn.close()


def test_pick_a_month_and_see_figures_and_charts(browser, server, node, shots: Path):
    page = login_page(browser, server, "pusat")
    page.goto(server + "/pusat/laporan/")
    page.select_option("#period-kind", "month")
    page.fill("#period-month", "2025-07")
    page.select_option("#posko", "")
    page.click("#show-report")
    page.wait_for_url(lambda u: "month=2025-07" in u)
    assert "Juli 2025" in page.inner_text("#report-period")
    assert page.inner_text("#stat-calls") == f"{_july_calls(node.data_dir):,}".replace(",", ".")
    assert page.locator("#chart-hours svg rect.bar").count() == 24
    assert page.locator("#chart-hours svg").is_visible()
    assert page.locator("#chart-kecamatan svg rect.bar").count() == 11
    assert page.locator("#sop-compliance tr[data-key=receive] td.share").inner_text().endswith("%")
    assert "laporan.pdf?period=month&month=2025-07" in page.get_attribute("#export-pdf", "href")
    page.set_viewport_size({"width": 1366, "height": 1400})
    page.screenshot(path=str(shots / "regency-report.png"), full_page=False)
    # One posko only: its link in the per-posko table keeps the month.
    page.click("#per-posko a:text('posko-rupat')")
    page.wait_for_url(lambda u: "posko=posko-rupat" in u)
    assert "posko-rupat" in page.inner_text("#report-period")
    page.context.close()
