"""A posko's daemons on a real local regency: cold start, memory, and a dispatch from click to agency inbox.

One run on sync.localnet.LocalRegency (a PKI, Mosquitto with TLS client certificates, real
`siaga112 sync run` processes) with central, posko-a and the Damkar station damkar-1, in a
temp folder removed at the end. posko-a runs all its daemons as in production:

- web: gunicorn with edge/gunicorn_conf.py (2 workers x 4 threads), the wsgi app;
- sync: `siaga112 sync run`;
- bridge: `siaga112 bridge run --modem` on the GSM modem emulator (a real pty).

Measured:
(a) cold start of each daemon, process start to ready: web answering /healthz with 200,
    sync daemon's status 'connected' = 1 (written when the broker accepted it), bridge's
    modem state written with the SIM ready and the modem registered;
(b) RSS (VmRSS from /proc; gunicorn master + workers summed) at rest, and the peak under
    load: `--takers` call-takers creating and dispatching cases over the API for `--load-s` s;
(c) dispatch latency: the call-taker's click (the form POST /incidents/{id}/dispatch at
    posko-a, CSRF and session as a browser sends them) until damkar-1's database holds the
    dispatch (what its inbox page lists), through both sync daemons and the broker; once
    with the posko otherwise idle and once during the load of (b);
(d) raw Mosquitto publish-to-subscribe latency on the same broker (paho, MQTT v5, QoS 1,
    TLS client certificates of the same PKI, 600-byte payloads, one message in flight).

    .venv/bin/python bench/posko.py [--dispatches 30] [--takers 10] [--load-s 20] [--messages 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import Client, node_mqtt_client, rss_kib, start_gunicorn, stop, summary, tree_rss_kib, wait_http

NODES = [
    ("central", "central", None, []),
    ("posko-a", "posko", None, ["Bengkalis"]),
    ("damkar-1", "agency", "DAMKAR", ["Bengkalis"]),
]
PASSWORD = "bench-password-1"


def _ro(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10, isolation_level=None)


def status_value(db_path: Path, key: str) -> str | None:
    con = _ro(db_path)
    try:
        row = con.execute("SELECT value FROM sync_status WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return row[0] if row else None


def wait_until(predicate, timeout: float, what: str, interval: float = 0.01) -> float:
    """Poll `predicate`; the monotonic time it became true (RuntimeError after `timeout`)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic()


def _modem_ready(db_path: Path) -> bool:
    value = status_value(db_path, "modem")
    if not value:
        return False
    state = json.loads(value)
    return bool(state.get("connected") and state.get("sim_ready") and state.get("registered"))


def _new_case(client: Client, i: int) -> str:
    """A call and its case through the intake form; the incident id."""
    _, headers, _ = client.form("/calls", {"caller_number": f"0813{i:08d}"})
    call_path = "/calls/" + headers["location"].rstrip("/").rsplit("/", 1)[1]
    _, headers, _ = client.form(call_path + "/incident", {
        "incident_type": "3", "kecamatan": "Bengkalis", "desa": f"Desa {i % 40}", "address": f"Jl. Bench {i}",
        "situation": "Rumah terbakar", "victims_count": "0", "victims_condition": "none", "four_wheel_access": "ya"})
    return headers["location"].split("#")[0].rstrip("/").rsplit("/", 1)[1]


def dispatch_latency(client: Client, station_db: Path, n: int, offset: int, stop_event: threading.Event | None = None
                     ) -> list[float]:
    """Click (form POST of the dispatch to DAMKAR) until the station's database holds it, ms."""
    out = []
    con = _ro(station_db)
    try:
        for i in range(offset, offset + n):
            if stop_event is not None and stop_event.is_set():
                break
            incident_id = _new_case(client, i)
            start = time.perf_counter()
            client.form(f"/incidents/{incident_id}/dispatch", {"agencies": ["DAMKAR"]})
            deadline = start + 60
            while con.execute("SELECT 1 FROM dispatch WHERE incident_id = ?", (incident_id,)).fetchone() is None:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"dispatch of {incident_id} not at the station after 60 s")
                time.sleep(0.002)
            out.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)  # the next call
    finally:
        con.close()
    return out


def _loader(port: int, token: str, stop_event: threading.Event, counter: list[int], k: int) -> None:
    client = Client("127.0.0.1", port, token=token)
    i = 0
    while not stop_event.is_set():
        _, _, data = client.json("/api/v1/incidents", {
            "incident_type": 1 + (i + k) % 12, "kecamatan": "Bengkalis", "desa": f"Desa {i % 40}",
            "address": f"Jl. Beban {k}-{i}", "reporter_number": f"0852{k:02d}{i:06d}", "victims_count": i % 3,
            "situation": "Uji beban"})
        payload = json.loads(data)
        codes = [c["code"] if isinstance(c, dict) else c for c in payload["suggested_agencies"]]
        client.json(f"/api/v1/incidents/{payload['incident']['id']}/dispatches", {"agencies": codes})
        counter[0] += 1
        i += 1
    client.close()


def raw_mqtt_latency(net, messages: int) -> list[float]:
    """posko-a's certificate publishes to damkar-1's inbox topic; damkar-1's receives; ms per message."""

    arrived = threading.Event()

    sub = node_mqtt_client(net, "damkar-1", "bench-lat-sub")
    sub.on_message = lambda *_a: arrived.set()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.subscribe("siaga112/+/to/damkar-1", qos=1)
    subscribed.wait(10)
    pub = node_mqtt_client(net, "posko-a", "bench-lat-pub")
    payload = os.urandom(600)
    out = []
    for _ in range(messages):
        arrived.clear()
        start = time.perf_counter()
        pub.publish("siaga112/posko-a/to/damkar-1", payload, qos=1)
        if not arrived.wait(10):
            raise RuntimeError("a raw MQTT message did not arrive within 10 s")
        out.append((time.perf_counter() - start) * 1000)
        time.sleep(0.01)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return out


def run(dispatches: int = 30, takers: int = 10, load_s: float = 20.0, messages: int = 300,
        folder: Path | None = None) -> dict:
    from edge.models import db_proxy
    from edge.services.users import create_user, get_user, issue_token
    from firmware_bridge.modem.emulator import ModemEmulator
    from sync.localnet import MOSQUITTO, LocalRegency, free_port, spawn

    if not Path(MOSQUITTO).exists():
        raise RuntimeError(f"{MOSQUITTO} is missing: install the Debian package 'mosquitto'")
    own = folder is None
    folder = Path(folder or tempfile.mkdtemp(prefix="siaga-bench-posko-"))
    web = bridge = emulator = None
    try:
        with LocalRegency(folder, NODES) as net:
            posko, station = net["posko-a"], net["damkar-1"]
            with net.use("posko-a"):
                create_user("op", "call_taker", PASSWORD)
                tokens = []
                for t in range(takers):
                    create_user(f"load{t}", "call_taker", PASSWORD)
                    tokens.append(issue_token(get_user(f"load{t}")))
            db_proxy.initialize(None)
            net.broker.start()
            net.start_sync("central")
            net.start_sync("damkar-1")
            for node in ("central", "damkar-1"):
                db = net[node].db_path
                wait_until(lambda db=db: status_value(db, "connected") == "1", 30, f"{node}'s sync daemon")

            cold: dict[str, float] = {}
            port = free_port()
            t0 = time.monotonic()
            web = start_gunicorn(posko.data_dir, "posko-a", "posko", port, folder / "gunicorn.log")
            cold["web"] = wait_http("127.0.0.1", port, "/healthz", web, 60) - t0
            t0 = time.monotonic()
            net.start_sync("posko-a")
            cold["sync"] = wait_until(lambda: status_value(posko.db_path, "connected") == "1", 30,
                                      "posko-a's sync daemon") - t0
            emulator = ModemEmulator(folder / "modem")
            emulator.start()
            time.sleep(1.0)  # the modem has booted before the bridge starts
            t0 = time.monotonic()
            bridge = spawn([sys.executable, "-m", "edge.cli", "bridge", "run", "--data-dir", str(posko.data_dir),
                            "--modem", emulator.port], folder / "bridge.log", {"SIAGA112_LOG_LEVEL": "WARNING"})
            cold["bridge"] = wait_until(lambda: _modem_ready(posko.db_path), 60, "the bridge's modem state") - t0

            pids = {"web": web.pid, "sync": posko.sync_proc.pid, "bridge": bridge.pid}

            def rss() -> dict[str, int]:
                return {"web": tree_rss_kib(pids["web"]), "sync": rss_kib(pids["sync"]),
                        "bridge": rss_kib(pids["bridge"])}

            time.sleep(3)
            rest = rss()
            client = Client("127.0.0.1", port)
            client.login("op", PASSWORD)
            idle = dispatch_latency(client, station.db_path, dispatches, 0)

            stop_event, counter = threading.Event(), [0]
            peak = dict(rest)
            loaders = [threading.Thread(target=_loader, args=(port, tokens[k], stop_event, counter, k), daemon=True)
                       for k in range(takers)]
            loaded_lat: list[float] = []
            measurer = threading.Thread(target=lambda: loaded_lat.extend(
                dispatch_latency(client, station.db_path, 10_000, 100_000, stop_event)), daemon=True)
            started = time.monotonic()
            for t in loaders:
                t.start()
            measurer.start()
            while time.monotonic() - started < load_s:
                time.sleep(0.25)
                peak = {k: max(v, peak[k]) for k, v in rss().items()}
            stop_event.set()
            for t in (*loaders, measurer):
                t.join(90)
            load_elapsed = time.monotonic() - started
            client.close()
            for name, proc in pids.items():
                if not os.path.exists(f"/proc/{proc}"):
                    raise RuntimeError(f"posko-a's {name} daemon died during the run")

            stop(bridge)
            bridge = None
            stop(web)
            web = None
            for node in ("posko-a", "damkar-1", "central"):
                net.stop_sync(node)
            raw = raw_mqtt_latency(net, messages)
        return {
            "cold_start_s": {k: round(v, 2) for k, v in cold.items()},
            "rss_rest_mib": {k: round(v / 1024, 1) for k, v in rest.items()},
            "rss_load_mib": {k: round(v / 1024, 1) for k, v in peak.items()},
            "load": {"takers": takers, "seconds": round(load_elapsed, 1),
                     "cases_per_s": round(counter[0] / load_elapsed, 1)},
            "dispatch_idle": summary(idle), "dispatch_load": summary(loaded_lat or [float("nan")]),
            "raw_mqtt": summary(raw),
        }
    finally:
        stop(bridge)
        stop(web)
        if emulator is not None:
            emulator.stop()
        if own:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatches", type=int, default=30, help="dispatches timed with the posko idle")
    parser.add_argument("--takers", type=int, default=10, help="call-takers loading the posko in (b)")
    parser.add_argument("--load-s", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--messages", type=int, default=300, help="raw MQTT messages timed")
    args = parser.parse_args()
    r = run(args.dispatches, args.takers, args.load_s, args.messages)
    print(f"{'daemon':<10}{'cold start s':>14}{'RSS rest MiB':>14}{'RSS load MiB':>14}")
    for name in ("web", "sync", "bridge"):
        print(f"{name:<10}{r['cold_start_s'][name]:>14.2f}{r['rss_rest_mib'][name]:>14.1f}"
              f"{r['rss_load_mib'][name]:>14.1f}")
    load = r["load"]
    print(f"load: {load['takers']} call-takers over the API, {load['cases_per_s']} cases/s for {load['seconds']} s")
    print(f"{'measure':<58}{'p50 ms':>10}{'p99 ms':>10}{'n':>6}")
    for key, name in (("dispatch_idle", "dispatch click -> station database, posko idle"),
                      ("dispatch_load", "dispatch click -> station database, under load"),
                      ("raw_mqtt", "raw Mosquitto publish -> subscribe, QoS 1, TLS (reference)")):
        s = r[key]
        print(f"{name:<58}{s['p50']:>10.1f}{s['p99']:>10.1f}{s['n']:>6}")


if __name__ == "__main__":
    main()
