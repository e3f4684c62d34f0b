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
def database(args: argparse.Namespace) -> Iterator[str | None]:
    if args.database_url:
        yield args.database_url
    elif args.postgres:
        from tests.postgres import PostgresServer

        with PostgresServer() as server:
            yield server.create_database()
    else:
        yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="an EMPTY PostgreSQL database for central")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL cluster")
    args = parser.parse_args()

    from central.reporting import build_report
    from central.reporting.csvfile import report_csv
    from central.reporting.pdf import report_pdf
    from central.reporting.periods import month_period, year_period
    from central.reporting.xlsx import report_xlsx
    from central.synthetic import generate
    from edge.services.node import init_node

    folder = Path(tempfile.mkdtemp(prefix="siaga-bench-report-"))
    try:
        with database(args) as url:
            result = init_node(folder / "central", "central", "central", "bengkalis", database_url=url)
            backend = "PostgreSQL" if url else "SQLite (WAL, synchronous=FULL)"
            summary = generate(seed=args.seed, calls=args.calls)
            print(f"machine: {os.cpu_count()} cpu; database: {backend}")
            print(f"data: {summary.calls:,} calls, {summary.incidents:,} cases, {summary.dispatches:,} dispatches, "
                  f"{len(summary.poskos)} posko, year 2025 (WIB); generated and loaded in {summary.seconds:.1f} s")
            month, year = month_period(2025, 7), year_period(2025)
            monthly = build_report(month)
            rows = [
                ("monthly report (2025-07), regency", lambda: build_report(month)),
                ("monthly report (2025-07), one posko", lambda: build_report(month, "posko-duri")),
                ("yearly report (2025), regency", lambda: build_report(year)),
                ("monthly PDF (fpdf2, with SVG charts)", lambda: report_pdf(monthly)),
                ("monthly XLSX (openpyxl)", lambda: report_xlsx(monthly)),
                ("monthly CSV", lambda: report_csv(monthly)),
            ]
            print(f"{'measure':<48}{'best s':>10}{'median s':>10}   ({args.repeat} runs)")
            for name, fn in rows:
                best, median = timed(fn, args.repeat)
                print(f"{name:<48}{best:>10.3f}{median:>10.3f}")
            result.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
