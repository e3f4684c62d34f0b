"""How fast a posko catches up after an outage, next to the raw broker rate, and what a case costs on the wire.

One run on a real local regency (sync.localnet: PKI, Mosquitto with TLS client
certificates, `siaga112 sync run` processes), all in a temp folder removed at the end:

(a) N case lifecycles are recorded at posko-a while its sync daemon is stopped (call,
    incident, dispatch to 4 agencies, 4 acknowledgements, close; edge.services calls);
    then central's daemon starts, and once it is connected posko-a's; central's
    `sync_change` is polled until it holds every queued change: changes/s from posko-a's
    daemon start and from the first change's arrival.
(b) Raw Mosquitto QoS 1 rate on the same broker: one paho publisher and one subscriber
    (MQTT v5, TLS client certificates of the same PKI), 200-600 byte payloads.
(d) Rebuilding posko-a from central after its disk died with no backup (`init --bundle
    --recover`, sync/rejoin.py): from its daemon's start until it holds every change it had
    sent central again (the catch-up direction reversed, through the REJOIN handshake).
(c) Bytes per case lifecycle: the lifecycle's changes sealed as the daemon does
    (codec.encode_batch + envelope.seal), as one envelope and as one envelope per change,
    against plain JSON of the same rows in the API's shape (edge.api.serialize).

    .venv/bin/python bench/sync_catchup.py [--cases 300] [--messages 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

NODES = [
    ("central", "central", None, []),
    ("posko-a", "posko", None, ["Bengkalis"]),
    ("posko-b", "posko", None, ["Bantan"]),
    ("damkar-1", "agency", "DAMKAR", ["Bengkalis", "Bantan"]),
]
AGENCIES = ("DAMKAR", "POLRES", "DINKES", "BPBD")
PASSWORD = "bench-password-1"


def lifecycle(op, responders: dict, i: int) -> None:
    """One case from call to close, through the same services the UI and API use."""
    from edge.services.calls import start_call
    from edge.services.dispatches import update_status
    from edge.services.incidents import close_incident, create_incident, dispatch_agencies

    call = start_call(op, {"caller_number": f"0812{i:08d}"})
    incident = create_incident(op, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": f"Desa {i % 40}",
                                    "address": f"Jl. Bench {i}", "reporter_name": "Bench", "victims_count": i % 3,
                                    "situation": "Rumah terbakar, api menjalar ke rumah sebelah"},
                               call_id=call.id).incident
    for dispatch in dispatch_agencies(op, incident.id, list(AGENCIES)):
        update_status(responders[dispatch.agency.code], dispatch.id, {"status": "acknowledged"})
    close_incident(op, incident.id, {"final_report": "Api padam, tidak ada korban jiwa"})


def count_origin(db_path: Path, origin: str) -> int:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM sync_change WHERE origin = ?", (origin,)).fetchone()[0]
    finally:
        con.close()


def sync_connected(db_path: Path) -> bool:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute("SELECT value FROM sync_status WHERE key = 'connected'").fetchone()
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()
    return bool(row) and row[0] == "1"


def catch_up(net, cases: int) -> dict:
    from edge.services.users import create_user, get_user
    from sync.models import SyncChange

    with net.use("posko-a"):
        create_user("op", "call_taker", PASSWORD)
        for code in AGENCIES:
            create_user(f"resp-{code.lower()}", "agency", PASSWORD, agency_code=code)
        op = get_user("op")
        responders = {code: get_user(f"resp-{code.lower()}") for code in AGENCIES}
        before = SyncChange.select().count()
        started = time.perf_counter()
        for i in range(cases):
            lifecycle(op, responders, i)
            if i == 0:
                first_case = (before, SyncChange.select().count())
        record_s = time.perf_counter() - started
        queued = SyncChange.select().where(SyncChange.origin == "posko-a").count()
        per_case = (SyncChange.select().count() - before) / cases
    # Central first, as in the field (it is always online): a batch published before central's
    # first subscription would be dropped by the broker and resent only after the retry delay.
    central_db = net["central"].db_path
    net.start_sync("central")
    net.wait_for(lambda: sync_connected(central_db), 30, "central's daemon to connect")
    t0 = time.perf_counter()
    net.start_sync("posko-a")
    first = None
    while (held := count_origin(central_db, "posko-a")) < queued:
        if held and first is None:
            first = time.perf_counter()
        if time.perf_counter() - t0 > 120:
            raise RuntimeError(f"central holds {held} of {queued} changes after 120 s\n{net.logs()}")
        time.sleep(0.05)
    done = time.perf_counter()
    first = first or done
    return {"queued": queued, "per_case": per_case, "record_s": record_s, "total_s": done - t0,
            "startup_s": first - t0, "apply_s": max(done - first, 1e-6), "first_case": first_case}


def recovery(net, queued: int) -> dict:
    """(d): posko-a's folder is wiped, re-created with --recover and enrolled; central returns its changes."""
    from edge.models import db_proxy
    from edge.services.node import init_node

    posko = net["posko-a"]
    net.stop_sync("posko-a")
    shutil.rmtree(posko.data_dir)
    init_node(posko.data_dir, "posko-a", "posko", net.profile, recover=True).db.close()
    db_proxy.initialize(None)
    net.enrol("posko-a")
    fenced = count_origin(posko.db_path, "posko-a")  # its new incarnation's own first changes
    t0 = time.perf_counter()
    net.start_sync("posko-a")
    while (held := count_origin(posko.db_path, "posko-a") - fenced) < queued:
        if time.perf_counter() - t0 > 300:
            raise RuntimeError(f"posko-a holds {held} of its {queued} changes after 300 s\n{net.logs()}")
        time.sleep(0.05)
    return {"changes": queued, "s": time.perf_counter() - t0}


def raw_mqtt(net, messages: int) -> dict:
    """posko-b publishes to damkar-1's inbox topic; a damkar-1 subscriber counts arrivals."""
    from common import node_mqtt_client

    received, all_in, acked = [0], threading.Event(), [0]

    def on_message(*_a) -> None:
        received[0] += 1
        if received[0] == messages:
            all_in.set()

    def on_publish(*_a) -> None:
        acked[0] += 1

    sub = node_mqtt_client(net, "damkar-1", "bench-sub", inflight=100)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.subscribe("siaga112/+/to/damkar-1", qos=1)
    subscribed.wait(10)
    pub = node_mqtt_client(net, "posko-b", "bench-pub", inflight=100)
    pub.on_publish = on_publish
    rng = random.Random(112)
    payloads = [os.urandom(rng.randint(200, 600)) for _ in range(messages)]
    t0 = time.perf_counter()
    for payload in payloads:
        pub.publish("siaga112/posko-b/to/damkar-1", payload, qos=1)
    ok = all_in.wait(120)
    elapsed = time.perf_counter() - t0
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    if not ok:
        raise RuntimeError(f"only {received[0]} of {messages} messages arrived")
    return {"messages": messages, "s": elapsed, "bytes": sum(map(len, payloads))}


def wire_bytes(net, first_case: tuple[int, int]) -> dict:
    """One lifecycle's changes sealed as the daemon seals them, against the API's JSON of the same rows."""
    from edge.api import serialize as ser
    from edge.models import Call, Dispatch, Event, Incident
    from edge.services.profiles import active_profile
    from sync import codec
    from sync.envelope import Kind, NodeKeys, directory_from_json, seal
    from sync.outbox import read_changes
    from sync.pki import load_directory, load_node_keys

    sync_dir = net["posko-a"].data_dir / "sync"
    keys = NodeKeys("posko-a", *load_node_keys(sync_dir))
    central = directory_from_json(load_directory(sync_dir / "directory.json"))["central"]
    with net.use("posko-a"):
        after, upto = first_case
        rows = read_changes(after, upto - after)
        changes = [change for _id, change, _via in rows]
        one = len(seal(keys, central, Kind.CHANGES, 1, codec.encode_batch(changes, upto)))
        each = sum(len(seal(keys, central, Kind.CHANGES, n + 1, codec.encode_batch([c], cid)))
                   for n, (cid, c, _via) in enumerate(rows))
        profile = active_profile()
        shape = {"call": lambda pk: ser.call(Call.get_by_id(pk)),
                 "incident": lambda pk: ser.incident(Incident.get_by_id(pk), profile),
                 "dispatch": lambda pk: ser.dispatch(Dispatch.get_by_id(pk)),
                 "event": lambda pk: ser.event(Event.get_by_id(pk))}
        plain = sum(len(json.dumps(shape[c.tbl](c.pk), ensure_ascii=False).encode()) for c in changes)
        tables = {t: sum(c.tbl == t for c in changes) for t in shape}
    # MQTT v5 PUBLISH around each envelope: fixed header + length (~3), topic length + topic,
    # packet id, empty properties.
    topic = len("siaga112/posko-a/to/central")
    return {"changes": len(changes), "tables": tables, "one": one, "each": each, "plain": plain,
            "mqtt": 1 + 3 + 2 + topic + 2 + 1}


def run(cases: int = 300, messages: int = 5000) -> dict:
    """(a), (b) and (c) on one local regency; raw figures (seconds, counts, bytes) and the derived rates."""
    from sync.localnet import MOSQUITTO, LocalRegency

    if not Path(MOSQUITTO).exists():
        raise RuntimeError(f"{MOSQUITTO} is missing: install the Debian package 'mosquitto'")
    folder = Path(tempfile.mkdtemp(prefix="siaga-sync-bench-"))
    try:
        with LocalRegency(folder, NODES) as net:
            net.broker.start()
            a = catch_up(net, cases)
            net.stop_sync("posko-a")
            net.stop_sync("central")
            b = raw_mqtt(net, messages)
            c = wire_bytes(net, a["first_case"])
            net.start_sync("central")
            net.wait_for(lambda: sync_connected(net["central"].db_path), 30, "central's daemon to connect")
            d = recovery(net, a["queued"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    a.pop("first_case")
    return {"catchup": {**a, "cases": cases, "changes_per_s": round(a["queued"] / a["total_s"], 1),
                        "apply_changes_per_s": round(a["queued"] / a["apply_s"], 1)},
            "raw_qos1": {**b, "msgs_per_s": round(b["messages"] / b["s"], 1)},
            "recovery": {**d, "changes_per_s": round(d["changes"] / d["s"], 1)},
            "wire": c}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    if args.cases < 1 or args.messages < 1:
        parser.error("--cases and --messages must be at least 1")
    from sync.localnet import MOSQUITTO

    r = run(args.cases, args.messages)
    a, b, c, d = r["catchup"], r["raw_qos1"], r["wire"], r["recovery"]
    version = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True).stdout.splitlines()[:1]
    print(f"machine: {os.cpu_count()} cpu, {' '.join(version) or 'mosquitto'} on 127.0.0.1, TLS client "
          f"certificates, SQLite {sqlite3.sqlite_version} WAL + synchronous=FULL")
    rows = [
        ("(a) case lifecycles recorded at posko-a, sync stopped", f"{args.cases}",
         f"{args.cases / a['record_s']:.0f} cases/s"),
        ("    changes queued at posko-a (all its own)", f"{a['queued']}", f"{a['per_case']:.1f} per case"),
        ("    until central holds all, from posko-a daemon start", f"{a['total_s']:.2f} s",
         f"{a['queued'] / a['total_s']:.0f} changes/s"),
        ("    of which: daemon start to first arrival", f"{a['startup_s']:.2f} s", ""),
        ("    first to last arrival at central", f"{a['apply_s']:.2f} s",
         f"{a['queued'] / a['apply_s']:.0f} changes/s"),
        ("(d) posko-a rebuilt from central (--recover), all back", f"{d['s']:.2f} s",
         f"{d['changes_per_s']:.0f} changes/s"),
        ("(b) raw Mosquitto QoS 1, 1 publisher -> 1 subscriber", f"{b['messages']} msgs, {b['s']:.2f} s",
         f"{b['messages'] / b['s']:.0f} msg/s"),
        ("    payload 200-600 bytes", f"{b['bytes'] / b['messages']:.0f} B avg",
         f"{b['bytes'] / b['s'] / 1e6:.1f} MB/s"),
        (f"(c) one lifecycle: {c['changes']} changes", ", ".join(f"{t} {n}" for t, n in c["tables"].items()), ""),
        ("    plain JSON of the changed rows (API shape)", f"{c['plain']} B", "1.00 x JSON"),
        ("    sealed as one envelope (one batch)", f"{c['one']} B", f"{c['one'] / c['plain']:.2f} x JSON"),
        ("    sealed as one envelope per change", f"{c['each']} B", f"{c['each'] / c['plain']:.2f} x JSON"),
        ("    + MQTT PUBLISH header per envelope", f"~{c['mqtt']} B", ""),
    ]
    print(f"{'measure':<56}{'value':>26}  {'rate / ratio'}")
    for name, value, rate in rows:
        print(f"{name:<56}{value:>26}  {rate}")


if __name__ == "__main__":
    main()
