"""The year of synthetic regency data the report tests share (no tests in this module).

Built once per test session (central.synthetic: 100,000 calls over 2025, four posko) into a
temp folder as a central node with a `pusat` user, then closed; a test opens it with the
`year_db` fixture (bound for the test, closed after) or serves it (the browser test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central.synthetic import SyntheticResult, generate
from edge.db import open_database
from edge.models import db_proxy
from edge.services.node import init_node
from edge.services.users import create_user
from tests.conftest import PASSWORD

YEAR_CALLS = 100_000
SEED = 112
_BUILT: dict[str, tuple[Path, SyntheticResult]] = {}  # one build per test session, whichever module asks first


def year_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticResult]:
    if "year" not in _BUILT:
        data_dir = tmp_path_factory.mktemp("regency-year") / "central"
        result = init_node(data_dir, "central", "central", "bengkalis")
        create_user("pusat", "central", PASSWORD, "Staf Diskominfotik")
        try:
            summary = generate(seed=SEED, calls=YEAR_CALLS)
        finally:
            result.db.close()
            db_proxy.initialize(None)
        _BUILT["year"] = (data_dir, summary)
    return _BUILT["year"]


@pytest.fixture(scope="session")
def year_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticResult]:
    return year_dataset(tmp_path_factory)


@pytest.fixture
def year_db(year_data: tuple[Path, SyntheticResult]) -> Iterator[Path]:
    """The year's central database, bound to the models for one test; yields its folder."""
    db = open_database(year_data[0])
    yield year_data[0]
    db.close()
    db_proxy.initialize(None)
