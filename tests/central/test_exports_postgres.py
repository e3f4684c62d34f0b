"""The closed-case feed, the records and the downloads on both backends (SQLite and a real
PostgreSQL server): the feed's order comes from the change capture, which each backend does
with its own triggers."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.interchange import bundle
from central.interchange.feed import closed_feed
from edge.models import db_proxy
from edge.services.node import init_node
from edge.services.privacy import CallerView, Scrubber
from edge.services.users import create_user
from edge.timeutil import wib_today
from tests.central.exports_factory import NUMBER, closed_case
from tests.conftest import PASSWORD, USERS
from tests.postgres import backend, postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def central(tmp_path: Path, backend: str | None) -> Iterator[Path]:  # noqa: F811 - fixture from tests.postgres
    result = init_node(tmp_path / "central", "central", "central", "bengkalis", database_url=backend)
    for username, role, agency in USERS:
        create_user(username, role, PASSWORD, username.title(), agency)
    yield tmp_path / "central"
    result.db.close()
    db_proxy.initialize(None)


def test_feed_and_exports_on_both_backends(central):
    cases = [closed_case(number=f"08127700{i:04d}") for i in range(3)]
    closed_case(close=False)
    seen, after = [], 0
    while True:
        page = closed_feed(after, limit=2)
        seen += [inc.case_no for _pos, inc in page.items]
        after = page.next_cursor
        if not page.has_more:
            break
    assert seen == [c.case_no for c in cases]
    assert closed_feed(after).items == []
    today = wib_today().isoformat()
    period = bundle.parse_period({"from": today, "to": today})
    out = io.BytesIO()
    assert bundle.write("cap", period, Scrubber(CallerView.FULL), out) == 3
    assert len(zipfile.ZipFile(out).namelist()) == 3
    out = io.BytesIO()
    assert bundle.write("records", period, Scrubber(CallerView.PSEUDONYMISED), out) == 3
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["case_no"] for r in records] == [c.case_no for c in cases] and NUMBER not in out.getvalue().decode()
    out = io.BytesIO()
    assert bundle.write("csv", period, Scrubber(CallerView.PSEUDONYMISED), out) == 4  # the open case's call too
