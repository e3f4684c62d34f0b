"""What every benchmark shares: percentiles, a small HTTP client, process RSS, the machine's description.

Why it exists: bench/run.py puts the figures of all benchmarks in one table and one
results.json, so they must compute percentiles the same way and describe the same machine;
the HTTP client (keep-alive, cookies, CSRF token) is what the intake and posko benchmarks
use to act as call-takers against the real web server (gunicorn), with no extra dependency.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/x.py` imports bench.common, tests.postgres


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    """p50, p99, max and count of latencies in ms (rounded for results.json)."""
    return {"p50": round(pct(values, .5), 2), "p99": round(pct(values, .99), 2), "max": round(max(values), 2),
            "n": len(values)}


def raw_commit_ms(folder: Path, n: int) -> list[float]:
    """Latency of a bare one-row INSERT + COMMIT in SQLite (WAL, synchronous=FULL, like a node) in `folder`."""
    path = folder / "raw-commit.sqlite3"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT)")
    out = []
    for i in range(n):
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (payload) VALUES (?)", (f"row {i}" * 20,))
        con.execute("COMMIT")
        out.append((time.perf_counter() - start) * 1000)
    con.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (gunicorn's workers under its master)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree_rss_kib(pid: int) -> int:
    """RSS of a process plus its direct children (gunicorn master + workers), KiB."""
    return rss_kib(pid) + sum(rss_kib(c) for c in children(pid))


class HttpError(RuntimeError):
    """A benchmark request got an unexpected HTTP status."""


class Client:
    """One call-taker's browser or API client: a keep-alive connection, cookies, the CSRF token."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.token = token
        self.csrf = ""

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str | None = None,
                expect: tuple[int, ...] = (200,)) -> tuple[int, dict, bytes]:
        headers = {}
        if ctype:
            headers["Content-Type"] = ctype
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # keep-alive closed by the server between requests: reconnect once
                if attempt == 2:
                    raise
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        if resp.status not in expect:
            raise HttpError(f"{method} {path}: {resp.status} {data[:300]!r}")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def get(self, path: str, expect: tuple[int, ...] = (200,)) -> bytes:
        data = self.request("GET", path, expect=expect)[2]
        if m := re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', data):
            self.csrf = m.group(1).decode()
        return data

    def form(self, path: str, fields: dict, expect: tuple[int, ...] = (302,)) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode({"csrf_token": self.csrf, **fields}, doseq=True).encode()
        return self.request("POST", path, body, "application/x-www-form-urlencoded", expect)

    def json(self, path: str, payload: dict, expect: tuple[int, ...] = (201,)) -> tuple[int, dict, bytes]:
        import json

        return self.request("POST", path, json.dumps(payload).encode(), "application/json", expect)

    def login(self, username: str, password: str) -> None:
        self.get("/login")
        self.form("/login", {"username": username, "password": password})
        self.get("/board")  # a page with a form: the session's CSRF token

    def close(self) -> None:
        self.conn.close()


def wait_http(host: str, port: int, path: str, proc: subprocess.Popen | None, timeout: float) -> float:
    """Poll until GET `path` answers 200; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the web server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return time.monotonic()
            conn.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"http://{host}:{port}{path} did not answer 200 within {timeout}s")
        time.sleep(0.01)


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _disk(folder: Path) -> str:
    """The block device under `folder` with its model and rotational flag, as far as /sys tells."""
    try:
        out = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", str(folder)], capture_output=True,
                             text=True, timeout=5).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if not out:
        return ""
    source, fstype = out[0], out[1] if len(out) > 1 else ""
    name = Path(source).name
    desc = f"{source} ({fstype})"
    for dev in (name, re.sub(r"p?\d+$", "", name)):
        sys_dir = Path("/sys/block") / dev
        if sys_dir.exists():
            model = (sys_dir / "device" / "model").read_text().strip() if (sys_dir / "device" / "model").exists() \
                else ""
            rotational = (sys_dir / "queue" / "rotational").read_text().strip() == "1"
            desc += f", {model or dev}, {'rotational' if rotational else 'non-rotational'}"
            break
    return desc


def machine(folder: Path | None = None) -> dict:
    """The machine the figures come from."""
    from sync.localnet import MOSQUITTO

    mosquitto = ""
    if Path(MOSQUITTO).exists():
        out = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True).stdout.splitlines()
        mosquitto = out[0].strip() if out else ""
    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0] or 0)
    with (ROOT / "pyproject.toml").open("rb") as fh:
        version = tomllib.load(fh).get("project", {}).get("version", "")
    folder = folder or Path(os.environ.get("TMPDIR", "/tmp"))
    return {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "disk": _disk(folder),
        "disk_free_gib": round(shutil.disk_usage(folder).free / 2**30, 1),
        "kernel": platform.release(),
        "os": _os_release() or platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "mosquitto": mosquitto,
        "siaga112": version,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews the figures
    }


def start_gunicorn(data_dir: Path, node_id: str, role: str, port: int, log_path: Path,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    """The production web server as siaga112-web.service runs it (edge/gunicorn_conf.py with the
    config's default workers and threads), for the node in `data_dir`, on 127.0.0.1:`port`."""
    from edge.config import render
    from sync.localnet import spawn

    config = data_dir.parent / f"{node_id}.toml"
    config.write_text(render({"node": {"id": node_id, "role": role, "data_dir": str(data_dir)},
                              "web": {"bind": "127.0.0.1", "port": port}, "log": {"level": "WARNING"}}),
                      encoding="utf-8")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return spawn([str(gunicorn), "--config", "python:edge.gunicorn_conf", "edge.wsgi:app"], log_path,
                 {"SIAGA112_CONFIG": str(config), **(env or {})})


def stop(proc: subprocess.Popen | None) -> None:
    from sync.localnet import stop_process

    stop_process(proc, 20)


def node_mqtt_client(net, node_id: str, name: str, inflight: int | None = None):
    """A raw paho client (MQTT v5) with `node_id`'s TLS certificate on the local regency's broker,
    connected and looping: the reference the sync daemons' figures are set against."""
    import threading

    import paho.mqtt.client as mqtt

    sync_dir = net[node_id].data_dir / "sync"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(sync_dir / "ca.crt"), certfile=str(sync_dir / "node.crt"),
              keyfile=str(sync_dir / "node.key"))
    if inflight:
        c.max_inflight_messages_set(inflight)
        c.max_queued_messages_set(0)
    connected = threading.Event()
    c.on_connect = lambda *_a: connected.set()
    c.connect(net.broker.host, net.broker.port, keepalive=30, clean_start=True)
    c.loop_start()
    if not connected.wait(10):
        raise RuntimeError(f"{name} could not connect\n{net.broker.log()[-2000:]}")
    return c
