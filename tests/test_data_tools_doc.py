"""Every ```bash block of docs/data-tools.md runs, as written, against a test central node.

The first block sets $SIAGA112_DATA_DIR and $DB (it keeps a value already in the
environment); each later block runs after it in a fresh `bash -euo pipefail`, in a temp
folder, with the virtualenv's `sqlite-utils` and `siaga112` on PATH. A block that fails, or
prints nothing, fails the test; a few checks make sure the recipes read the real data.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.models import db_proxy
from edge.services import calls as call_svc
from edge.services.users import get_user
from tests.central.conftest import node  # noqa: F401  (a central node)
from tests.central.exports_factory import NUMBER, closed_case

DOC = Path(__file__).resolve().parent.parent / "docs" / "data-tools.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.S | re.M)
BIN = Path(sys.executable).parent


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


@pytest.fixture
def central_db(node):  # noqa: F811
    for i in range(3):
        closed_case(number=f"08127700{i:04d}")
    closed_case()
    closed_case(incident_type=1)
    op = get_user("operator")
    for kind in ("prank", "prank", "ghost", "information"):
        call_svc.classify_call(op, call_svc.start_call(op, {"caller_number": NUMBER}).id, {"call_type": kind})
    db_proxy.obj.execute_sql("pragma wal_checkpoint(truncate)")
    return node


def _run(setup: str, block: str, central, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "SIAGA112_DATA_DIR": str(central.data_dir)}
    env.pop("DB", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", setup + "\n" + block], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"block failed:\n{block}\n--- stderr:\n{done.stderr}\n--- stdout:\n{done.stdout}"
    return done.stdout


def test_every_recipe_runs(central_db, tmp_path):
    setup, *recipes = blocks()
    assert "SIAGA112_DATA_DIR" in setup and len(recipes) >= 8
    outputs = []
    for block in recipes:
        out = _run(setup, block, central_db, tmp_path)
        assert out.strip(), f"block printed nothing:\n{block}"
        outputs.append(out)
    text = "\n".join(outputs)
    assert re.search(r"prank\s+2\b", text)  # calls by type, from the data
    assert re.search(rf"{NUMBER}\s+6\s+2\b", text)  # top numbers: 2 cases + 4 classified calls, 2 pranks
    assert re.search(r"Bengkalis\s+5\b", text)  # cases per kecamatan
    assert re.search(r"p-[0-9a-f]{16}\s+6\s+2\b", text)  # the pseudonymised export counts the same caller
    copy = tmp_path / "analyst.sqlite3"
    assert copy.exists() and NUMBER.encode() not in copy.read_bytes()
    assert b"Budi" not in copy.read_bytes() and b"pseudonym_key" not in copy.read_bytes()
