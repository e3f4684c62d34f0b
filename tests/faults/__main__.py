"""`python -m tests.faults`: run one fault drill and print its table (make test-faults).

Exit status 0 when nothing was lost, doubled or left diverged, 1 otherwise; the seed is printed
first, so a failing run can be replayed with --seed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.faults.drill import FAULT_KINDS, Drill, DrillConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000, help="operations to run (default 5000)")
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    parser.add_argument("--minutes", type=float, help="stop issuing operations after this many minutes")
    parser.add_argument("--rate", type=float, default=25.0, help="operations per second at most (default 25)")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS),
                        help=f"fault kinds, comma-separated (default all: {','.join(FAULT_KINDS)})")
    parser.add_argument("--fault-every", default="12,30", help="operations between two faults, min,max (default 12,30)")
    parser.add_argument("--fault-length", default="20,90",
                        help="operations a lasting fault lasts, min,max (default 20,90)")
    parser.add_argument("--skew", default="-1h", help="clock offset of posko-a (libfaketime syntax; '' for none)")
    parser.add_argument("--converge-timeout", type=float, default=300.0, help="seconds to wait after healing")
    parser.add_argument("--root", type=Path, help="folder for the regency (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.faults.split(",") if k)
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    try:
        every, length = (tuple(int(x) for x in v.split(",")) for v in (args.fault_every, args.fault_length))
        assert len(every) == len(length) == 2
    except (ValueError, AssertionError):
        parser.error("--fault-every and --fault-length take two numbers: min,max")
    config = DrillConfig(ops=args.ops, seed=args.seed, minutes=args.minutes, rate=args.rate, kinds=kinds,
                         fault_every=every, fault_length=length,
                         skew_node="posko-a" if args.skew else None, skew=args.skew,
                         converge_timeout=args.converge_timeout)
    root = args.root or Path(tempfile.mkdtemp(prefix="siaga112-drill-"))
    print(f"seed {config.seed}; regency in {root}", flush=True)
    try:
        report = Drill(root / "regency", config, log=lambda m: print(m, flush=True)).run()
    finally:
        if args.root is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(report.table())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
