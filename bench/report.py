"""How long central takes to build the regency reports on a year of data (issue 5).

Creates a central node in a temp folder (SQLite, or the PostgreSQL database given by
--database-url, or a throw-away PostgreSQL cluster with --postgres), loads a year of
synthetic Bengkalis-like data (central.synthetic: 100,000 calls by default), then times
build_report() for one month (the monthly complaint report) and for the whole year, and
the monthly report's PDF, XLSX and CSV renderers.

    .venv/bin/python bench/report.py [--calls 100000] [--repeat 3]
    .venv/bin/python bench/report.py --database-url postgresql://user@host:5432/empty_db
    .venv/bin/python bench/report.py --postgres      # Debian's PostgreSQL binaries, temp cluster
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.postgres for --postgres


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall-clock seconds over `repeat` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


@contextlib.contextmanager
def database(database_url: str | None, postgres: bool) -> Iterator[str | None]:
    if database_url:
        yield database_url
    elif postgres:
        from tests.postgres import PostgresServer

        with PostgresServer() as server:
            yield server.create_database()
    else:
        yield None


def run(calls: int = 100_000, seed: int = 112, repeat: int = 3, database_url: str | None = None,
        postgres: bool = False) -> dict:
    """Load the year into a fresh central and time each report; seconds (best and median of `repeat`)."""
    from central.reporting import build_report
    from central.reporting.csvfile import report_csv
    from central.reporting.pdf import report_pdf
    from central.reporting.periods import month_period, year_period
    from central.reporting.xlsx import report_xlsx
    from central.synthetic import generate
    from edge.services.node import init_node

    folder = Path(tempfile.mkdtemp(prefix="siaga-bench-report-"))
    try:
        with database(database_url, postgres) as url:
            result = init_node(folder / "central", "central", "central", "bengkalis", database_url=url)
            summary = generate(seed=seed, calls=calls)
            month, year = month_period(2025, 7), year_period(2025)
            monthly = build_report(month)
            rows = [
                ("monthly", "monthly report (2025-07), regency", lambda: build_report(month)),
                ("monthly_posko", "monthly report (2025-07), one posko", lambda: build_report(month, "posko-duri")),
                ("yearly", "yearly report (2025), regency", lambda: build_report(year)),
                ("pdf", "monthly PDF (fpdf2, with SVG charts)", lambda: report_pdf(monthly)),
                ("xlsx", "monthly XLSX (openpyxl)", lambda: report_xlsx(monthly)),
                ("csv", "monthly CSV", lambda: report_csv(monthly)),
            ]
            times = {}
            for key, name, fn in rows:
                best, median = timed(fn, repeat)
                times[key] = {"name": name, "best_s": round(best, 3), "median_s": round(median, 3)}
            result.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"database": "PostgreSQL" if url else "SQLite (WAL, synchronous=FULL)", "repeat": repeat,
            "data": {"calls": summary.calls, "incidents": summary.incidents, "dispatches": summary.dispatches,
                     "poskos": len(summary.poskos), "load_s": round(summary.seconds, 1)},
            "times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an EMPTY PostgreSQL database for central")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL cluster")
    args = parser.parse_args()
    r = run(args.calls, args.seed, args.repeat, args.database_url, args.postgres)
    d = r["data"]
    print(f"machine: {os.cpu_count()} cpu; database: {r['database']}")
    print(f"data: {d['calls']:,} calls, {d['incidents']:,} cases, {d['dispatches']:,} dispatches, "
          f"{d['poskos']} posko, year 2025 (WIB); generated and loaded in {d['load_s']:.1f} s")
    print(f"{'measure':<48}{'best s':>10}{'median s':>10}   ({r['repeat']} runs)")
    for t in r["times"].values():
        print(f"{t['name']:<48}{t['best_s']:>10.3f}{t['median_s']:>10.3f}")


if __name__ == "__main__":
    main()
