"""How fast a posko records and dispatches a case under load: API and form latency vs. a raw SQLite commit.

A posko node is created in a temp folder and filled with `--preload` synthetic cases
(central.synthetic with every call an emergency, all recorded by this posko: a database a
year or more into service). The real web server runs as in production (gunicorn with
edge/gunicorn_conf.py: 2 workers x 4 threads, SQLite WAL + synchronous=FULL); `--takers`
call-takers work at the same time, each on its own keep-alive HTTP connection:

  API:  POST /api/v1/incidents, then POST /api/v1/incidents/{id}/dispatches (bearer token);
  form: POST /calls, POST /calls/{id}/incident, POST /incidents/{id}/dispatch (session
        cookie + CSRF token, as the browser sends them; the redirect is not followed).

Each call-taker first sends one untimed request (connection set up, worker warmed), then all
start together.
p50/p99 of each request's latency, next to a bare one-row SQLite commit on the same disk in
the same run (the floor any durable write pays).

    .venv/bin/python bench/intake.py [--preload 100000] [--takers 10] [--cases 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from common import Client, raw_commit_ms, start_gunicorn, stop, summary, wait_http

PASSWORD = "bench-password-1"
NODE = "posko-bench"


def preload(target: int, seed: int = 112) -> dict:
    """About `target` cases (with their calls and dispatches) recorded by this posko, loaded in one go."""
    from central import synthetic
    from edge.enums import CallType

    if target <= 0:
        return {"incidents": 0, "calls": 0, "dispatches": 0, "seconds": 0.0}
    spec = synthetic.PoskoSpec(NODE, 1.0, (("Bengkalis", 6), ("Bantan", 3)), 8, 600)
    saved = synthetic.TYPE_WEIGHTS
    synthetic.TYPE_WEIGHTS = ((CallType.NORMAL.value, 1.0),)  # every call a case (about 82% become one)
    try:
        result = synthetic.generate(seed=seed, calls=int(target / 0.815) + 1, poskos=(spec,))
    finally:
        synthetic.TYPE_WEIGHTS = saved
    return {"incidents": result.incidents, "calls": result.calls, "dispatches": result.dispatches,
            "seconds": round(result.seconds, 1)}


def _body(i: int) -> dict:
    return {"incident_type": 1 + i % 12, "kecamatan": "Bengkalis", "desa": f"Desa {i % 40}",
            "address": f"Jl. Bench {i}", "reporter_number": f"0812{i:08d}", "victims_count": i % 3,
            "situation": "Laporan warga, uji beban"}


SERVER_ERRORS = (500, 502, 503, 504)


def _timed(out: dict, key: str, call, *args, **kwargs) -> tuple[int, dict, bytes] | None:
    """Time `call(*args, **kwargs)` (one request) into out[key]; a 5xx answer is timed too, counted in
    out["failed"][key] and gives None."""
    start = time.perf_counter()
    status, headers, data = call(*args, **kwargs)
    out[key].append((time.perf_counter() - start) * 1000)
    if status >= 500:
        out["failed"][key] = out["failed"].get(key, 0) + 1
        return None
    return status, headers, data


def _api_taker(port: int, token: str, n: int, offset: int, out: dict, barrier: threading.Barrier) -> None:
    client = Client("127.0.0.1", port, token=token)
    client.json("/api/v1/incidents", _body(offset + 10_000_000))  # warm-up, not timed: connection, worker caches
    barrier.wait()
    for i in range(offset, offset + n):
        got = _timed(out, "api_create", client.json, "/api/v1/incidents", _body(i), expect=(201, *SERVER_ERRORS))
        if got is None:
            continue
        payload = json.loads(got[2])
        codes = [c["code"] if isinstance(c, dict) else c for c in payload["suggested_agencies"]]
        path = f"/api/v1/incidents/{payload['incident']['id']}/dispatches"
        _timed(out, "api_dispatch", client.json, path, {"agencies": codes}, expect=(201, *SERVER_ERRORS))
    client.close()


def _form_taker(port: int, username: str, n: int, offset: int, out: dict, barrier: threading.Barrier,
                suggested: dict[int, list[str]]) -> None:
    client = Client("127.0.0.1", port)
    client.login(username, PASSWORD)
    client.form("/calls", {"caller_number": "081200000000"})  # warm-up, not timed
    barrier.wait()
    expect = (302, *SERVER_ERRORS)
    for i in range(offset, offset + n):
        body = _body(i)
        got = _timed(out, "form_call", client.form, "/calls", {"caller_number": body["reporter_number"]},
                     expect=expect)
        if got is None:
            continue
        call_path = "/calls/" + got[1]["location"].rstrip("/").rsplit("/", 1)[1]
        fields = {k: str(v) for k, v in body.items()}
        fields.update(victims_condition="injured", four_wheel_access="ya")
        got = _timed(out, "form_create", client.form, call_path + "/incident", fields, expect=expect)
        if got is None:
            continue
        incident_id = got[1]["location"].split("#")[0].rstrip("/").rsplit("/", 1)[1]
        agencies = suggested[body["incident_type"]]
        _timed(out, "form_dispatch", client.form, f"/incidents/{incident_id}/dispatch", {"agencies": agencies},
               expect=expect)
    client.close()


def run_threads(target, args_for: list[tuple]) -> float:
    """Run `target(*args)` in one thread per tuple; seconds until all are done; the first failure re-raised."""
    errors: list[BaseException] = []

    def guarded(*args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
            for arg in args:
                if isinstance(arg, threading.Barrier):
                    arg.abort()

    threads = [threading.Thread(target=guarded, args=a) for a in args_for]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def run(preload_cases: int = 100_000, takers: int = 10, cases: int = 30, folder: Path | None = None) -> dict:
    """Load the database, start gunicorn, run the API then the form phase; figures in ms."""
    from edge.db import database_path
    from edge.models import db_proxy
    from edge.profile import load_profile
    from edge.services.node import init_node
    from edge.services.users import create_user, get_user, issue_token
    from sync.localnet import free_port

    own = folder is None
    folder = Path(folder or tempfile.mkdtemp(prefix="siaga-bench-intake-"))
    proc = None
    try:
        data_dir = folder / NODE
        result = init_node(data_dir, NODE, "posko", "bengkalis")
        loaded = preload(preload_cases)
        tokens = []
        for t in range(takers):
            create_user(f"op{t}", "call_taker", PASSWORD)
            tokens.append(issue_token(get_user(f"op{t}")))
        result.db.close()
        db_proxy.initialize(None)
        profile = load_profile("bengkalis")
        suggested = {spec.code: list(profile.suggested_agencies(spec.code)) for spec in profile.incident_types}
        size_mb = round(database_path(data_dir).stat().st_size / 1e6, 1)

        port = free_port()
        proc = start_gunicorn(data_dir, NODE, "posko", port, folder / "gunicorn.log")
        wait_http("127.0.0.1", port, "/healthz", proc, 60)
        out: dict[str, list[float]] = {k: [] for k in ("api_create", "api_dispatch", "form_call", "form_create",
                                                       "form_dispatch")}
        out["failed"] = {}
        # Throughput counts from the moment all call-takers start together: not their logins and
        # warm-ups (a login opens the board, over a second per page on this database).
        started: list[float] = []
        barrier = threading.Barrier(takers, action=lambda: started.append(time.perf_counter()))
        run_threads(_api_taker, [(port, tokens[t], cases, t * cases, out, barrier) for t in range(takers)])
        api_s = time.perf_counter() - started.pop()
        barrier = threading.Barrier(takers, action=lambda: started.append(time.perf_counter()))
        base = takers * cases
        run_threads(_form_taker, [(port, f"op{t}", cases, base + t * cases, out, barrier, suggested)
                                  for t in range(takers)])
        form_s = time.perf_counter() - started.pop()
        stop(proc)
        proc = None
        raw = raw_commit_ms(data_dir, takers * cases)
        return {
            "preloaded": loaded, "database_mb": size_mb, "takers": takers, "cases_per_taker": cases,
            "api_cases_per_s": round(takers * cases / api_s, 1), "form_cases_per_s": round(takers * cases / form_s, 1),
            **{k: summary(v) for k, v in out.items() if k != "failed"}, "failed": out["failed"],
            "raw_commit": summary(raw),
        }
    except Exception as exc:
        log = folder / "gunicorn.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(f"{exc}\n--- gunicorn log (end) ---\n{tail}") from exc
    finally:
        stop(proc)
        if own:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preload", type=int, default=100_000, help="cases already in the database")
    parser.add_argument("--takers", type=int, default=10, help="concurrent call-takers")
    parser.add_argument("--cases", type=int, default=30, help="cases per call-taker, in each of API and form")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    r = run(args.preload, args.takers, args.cases)
    p = r["preloaded"]
    print(f"database: {p['incidents']:,} cases, {p['calls']:,} calls, {p['dispatches']:,} dispatches already "
          f"({r['database_mb']} MB, loaded in {p['seconds']} s); gunicorn 2 workers x 4 threads; "
          f"{r['takers']} call-takers x {r['cases_per_taker']} cases each")
    print(f"{'measure':<52}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for key, name in (("api_create", "API  POST /api/v1/incidents"), ("api_dispatch", "API  POST .../dispatches"),
                      ("form_call", "form POST /calls"), ("form_create", "form POST /calls/{id}/incident"),
                      ("form_dispatch", "form POST /incidents/{id}/dispatch"),
                      ("raw_commit", "raw SQLite one-row commit, same disk (reference)")):
        s = r[key]
        failed = r["failed"].get(key)
        print(f"{name:<52}{s['p50']:>10.2f}{s['p99']:>10.2f}{s['max']:>10.2f}"
              + (f"   {failed} of {s['n']} answered 5xx" if failed else ""))
    print(f"throughput: API {r['api_cases_per_s']} cases/s, form {r['form_cases_per_s']} cases/s (create + dispatch)")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
