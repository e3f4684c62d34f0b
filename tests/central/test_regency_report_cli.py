"""`siaga112 report synthetic` and `siaga112 report build`: the same report as the page, as a file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from edge.cli import main as cli
from edge.models import db_proxy
from edge.services.node import init_node


def test_synthetic_then_build_csv_and_pdf(node, tmp_path: Path):
    runner = CliRunner()
    args = ["--data-dir", str(node.data_dir)]
    result = runner.invoke(cli, ["report", "synthetic", "--calls", "400", "--start", "2025-03-01", "--days", "10",
                                 *args])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("400 calls")
    out = tmp_path / "march.csv"
    result = runner.invoke(cli, ["report", "build", "--period", "month", "--month", "2025-03", "--format", "csv",
                                 "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    totals = {r["kunci"]: r["nilai"] for r in rows if r["bagian"] == "ringkasan"}
    assert totals["panggilan"] == "400" and totals["periode"] == "Maret 2025"
    result = runner.invoke(cli, ["report", "build", "--period", "custom", "--from", "2025-03-01", "--to",
                                 "2025-03-05", "--posko", "posko-rupat", "--out", str(tmp_path / "r.pdf"), *args])
    assert result.exit_code == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    result = runner.invoke(cli, ["report", "build", "--posko", "posko-nowhere", *args])
    assert result.exit_code == 2 and "error: posko:" in result.output
    result = runner.invoke(cli, ["report", "build", "--period", "month", "--month", "2025-13", *args])
    assert result.exit_code == 2 and "error: month:" in result.output


def test_synthetic_refuses_a_posko(tmp_path: Path):
    init_node(tmp_path / "posko", "posko-a", "posko", "bengkalis").db.close()
    db_proxy.initialize(None)
    result = CliRunner().invoke(cli, ["report", "synthetic", "--calls", "10", "--data-dir", str(tmp_path / "posko")])
    assert result.exit_code == 2 and "central node only" in result.output
    db_proxy.obj.close()
    db_proxy.initialize(None)
