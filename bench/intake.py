"""How fast a posko records and dispatches a case: API latency vs. a raw SQLite commit.

Runs the real app in-process on a temp SQLite file (WAL, synchronous=FULL) and prints
p50/p99 for POST /api/v1/incidents and POST /api/v1/incidents/{id}/dispatches, next to
the latency of a bare one-row commit on the same disk, so the app's overhead is visible.

    .venv/bin/python bench/intake.py [--cases 300] [--preload 0]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def raw_commit_ms(folder: Path, n: int) -> list[float]:
    con = sqlite3.connect(folder / "raw.sqlite3", isolation_level=None)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
    out = []
    for i in range(n):
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (payload) VALUES (?)", (f"row {i}" * 20,))
        con.execute("COMMIT")
        out.append((time.perf_counter() - start) * 1000)
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()

    from edge.app import create_app
    from edge.services.node import init_node
    from edge.services.users import create_user, get_user, issue_token

    folder = Path(tempfile.mkdtemp(prefix="siaga-bench-"))
    init_node(folder / "posko", "posko-bench", "posko", "bengkalis")
    create_user("op", "call_taker", "bench-password-1")
    token = issue_token(get_user("op"))
    app = create_app(folder / "posko")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    create_ms, dispatch_ms = [], []
    for i in range(args.cases):
        body = {"incident_type": 1 + i % 12, "desa": f"Desa {i % 40}", "address": f"Jl. Bench {i}",
                "reporter_number": f"0812{i:07d}", "victims_count": i % 3, "situation": "bench"}
        start = time.perf_counter()
        r = client.post("/api/v1/incidents", json=body, headers=headers)
        create_ms.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 201, r.get_json()
        payload = r.get_json()
        codes = [a["code"] for a in payload["suggested_agencies"]]
        start = time.perf_counter()
        r = client.post(f"/api/v1/incidents/{payload['incident']['id']}/dispatches",
                        json={"agencies": codes}, headers=headers)
        dispatch_ms.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 201
    raw = raw_commit_ms(folder, args.cases)
    print(f"machine: {os.cpu_count()} cpu, SQLite {sqlite3.sqlite_version}, {args.cases} cases, WAL + synchronous=FULL")
    print(f"{'measure':<42}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in (("POST /api/v1/incidents", create_ms),
                         ("POST /api/v1/incidents/{id}/dispatches", dispatch_ms),
                         ("raw SQLite one-row commit (reference)", raw)):
        print(f"{name:<42}{pct(values, .5):>10.2f}{pct(values, .99):>10.2f}{statistics.mean(values):>10.2f}")


if __name__ == "__main__":
    main()
