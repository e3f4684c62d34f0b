"""The same report on SQLite and on PostgreSQL: the generator writes the same rows (same
seed) to both backends, and every figure of the report comes out equal (the report's
queries are portable; the one engine-specific expression is in central.reporting.dialect)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pytest

from central.reporting import build_report
from central.reporting.periods import month_period, span
from central.synthetic import generate
from edge.dialect import is_postgres
from edge.models import db_proxy
from edge.services.node import init_node
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FIXED = datetime(2025, 4, 1)


def _reports(data_dir: Path, url: str | None) -> list:
    result = init_node(data_dir, "central", "central", "bengkalis", database_url=url)
    try:
        assert is_postgres(db_proxy) == bool(url)
        generate(seed=5, start=date(2025, 3, 1), days=31, calls=2500)
        periods = (month_period(2025, 3), span("custom", date(2025, 3, 10), date(2025, 3, 12)))
        return [build_report(p, posko, now=FIXED) for p in periods for posko in (None, "posko-duri")]
    finally:
        result.db.close()
        db_proxy.initialize(None)


def test_sqlite_and_postgresql_give_the_same_report(tmp_path: Path, postgres_url: str):  # noqa: F811
    on_sqlite = _reports(tmp_path / "sqlite", None)
    on_postgres = _reports(tmp_path / "pg", postgres_url)
    for lite, pg in zip(on_sqlite, on_postgres, strict=True):
        assert lite.calls_total > 0 and lite.incidents_total > 0
        for field in dataclasses.fields(lite):
            assert getattr(pg, field.name) == getattr(lite, field.name), field.name
