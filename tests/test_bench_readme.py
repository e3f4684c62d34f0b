"""README's "Figures" section is the table bench/readme_table.py renders from the committed bench/results.json.

Not a speed test: it only checks that whoever committed new results also updated README
(`.venv/bin/python bench/readme_table.py --write`), and that the results file has what the
table needs (every benchmark ran, the machine is described).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_table():
    spec = importlib.util.spec_from_file_location("bench_readme_table", ROOT / "bench" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_figures_are_the_committed_results():
    table = _readme_table()
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    section = table.readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section is not None, "README.md lacks the bench markers of its Figures section"
    assert section == table.markdown(results), "README is not up to date: run bench/readme_table.py --write"


def test_results_describe_the_machine_and_every_benchmark():
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    machine = results["machine"]
    for key in ("cpu", "cores", "ram_gib", "disk", "kernel", "python", "sqlite", "mosquitto", "date"):
        assert machine.get(key), f"results.json: machine.{key} is missing"
    figures = results["figures"]
    for name in ("intake", "posko", "sync", "dispatch_size", "report"):
        assert name in figures and "error" not in figures[name], f"results.json: {name} did not run or failed"
    table = _readme_table()
    assert len(table.rows(results)) >= 20


def test_a_changed_figure_is_caught():
    """The check can fail: the same results with one figure changed render a different table."""
    table = _readme_table()
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    before = table.markdown(results)
    results["figures"]["intake"]["api_create"]["p50"] += 1
    assert table.markdown(results) != before
