"""`make bench`: every benchmark in one run, one table, and bench/results.json with the machine.

Runs bench/intake.py, posko.py, sync_catchup.py, dispatch_size.py and report.py through
their run() functions (each script also runs alone, with more detail), one after the other
so they do not compete for the CPUs, prints the table of bench/readme_table.py and writes
bench/results.json (figures + the machine: CPU, cores, RAM, disk, kernel, Python, SQLite,
Mosquitto, date). README's "Figures" section is rendered from that file:
`bench/readme_table.py --write`. A benchmark that fails is reported and left out of the
table; the exit status is then 1.

    .venv/bin/python bench/run.py [--quick] [--only intake,posko] [--output bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import readme_table
from common import machine

FULL = {
    "intake": {"preload_cases": 100_000, "takers": 10, "cases": 30},
    "posko": {"dispatches": 30, "takers": 10, "load_s": 20.0, "messages": 300},
    "sync": {"cases": 300, "messages": 5000},
    "dispatch_size": {},
    "report": {"calls": 100_000, "repeat": 3},
}
QUICK = {
    "intake": {"preload_cases": 10_000, "takers": 10, "cases": 5},
    "posko": {"dispatches": 10, "takers": 10, "load_s": 8.0, "messages": 100},
    "sync": {"cases": 50, "messages": 1000},
    "dispatch_size": {},
    "report": {"calls": 20_000, "repeat": 1},
}


def _runner(name: str):
    if name == "intake":
        import intake

        return intake.run
    if name == "posko":
        import posko

        return posko.run
    if name == "sync":
        import sync_catchup

        return sync_catchup.run
    if name == "dispatch_size":
        import dispatch_size

        def run() -> dict:
            r = dispatch_size.run()
            r.pop("texts")
            return r

        return run
    import report

    return report.run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute and a half")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(FULL)}")
    parser.add_argument("--output", type=Path, default=readme_table.RESULTS, help="where to write results.json")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(plan)
    unknown = set(names) - set(plan)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results = {"quick": args.quick, "machine": machine(), "parameters": {n: plan[n] for n in names},
               "seconds": {}, "figures": {}}
    failed = False
    for name in names:
        print(f"--- {name} {plan[name]}", flush=True)
        started = time.monotonic()
        try:
            results["figures"][name] = _runner(name)(**plan[name])
        except Exception as exc:  # noqa: BLE001 - the other benchmarks still run
            traceback.print_exc()
            results["figures"][name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            failed = True
        results["seconds"][name] = round(time.monotonic() - started, 1)
    print()
    print(readme_table.text(results))
    for name, figures in results["figures"].items():
        if "error" in figures:
            print(f"FAILED {name}: {figures['error'].splitlines()[0]}")
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {args.output} ({sum(results['seconds'].values()):.0f} s of benchmarks); "
          "update README with bench/readme_table.py --write")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
