"""A sync daemon whose MQTT network thread dies must not stay up disconnected for ever.

Found by the fault drill: under libfaketime with FAKETIME_DONT_FAKE_MONOTONIC=1, Python 3.11's
time.sleep fails with EINVAL; paho's network thread calls it while waiting to reconnect and dies
("Exception in thread paho-mqtt-client-..."). The daemon process stayed alive, its send loop kept
going round (so `SyncDaemon.healthy()` and the systemd watchdog saw nothing), and it never
connected again; any other exception escaping paho's thread would have done the same. Since
22908ce `sync run` exits when that thread dies (systemd restarts it). The trigger here is
artificial; the supervision it checks is not.
"""

from __future__ import annotations

import sqlite3
import time

from sync.localnet import LocalRegency
from tests.faults.procs import faketime_env

NODES = [("central", "central", None, []), ("posko-a", "posko", None, ["Bengkalis"])]


def connected(net: LocalRegency, node_id: str) -> bool:
    with sqlite3.connect(f"file:{net[node_id].db_path}?mode=ro", uri=True) as con:
        row = con.execute("SELECT value FROM sync_status WHERE key = 'connected'").fetchone()
    return bool(row and row[0] == "1")


def test_a_daemon_whose_network_thread_died_reconnects_or_exits(tmp_path):
    with LocalRegency(tmp_path / "regency", NODES) as net:
        # The broker is down: the first connect fails and paho waits to retry, in time.sleep.
        net.start_sync("posko-a", **faketime_env("+0"), FAKETIME_DONT_FAKE_MONOTONIC="1")
        time.sleep(3)
        net.broker.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not net.sync_alive("posko-a") or connected(net, "posko-a"):
                break
            time.sleep(0.5)
        log = net["posko-a"].sync_log.read_text(errors="replace")
        assert "Exception in thread paho" in log, log[-2000:]  # the trigger worked
        assert not net.sync_alive("posko-a") or connected(net, "posko-a"), (
            "the daemon is alive, disconnected, and will stay so:\n" + log[-1500:])
