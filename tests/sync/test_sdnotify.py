"""The daemon speaks systemd's notify protocol: READY=1, then WATCHDOG=1 while healthy."""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def test_sync_run_notifies_ready_and_pings_the_watchdog(pki, broker, tmp_path):
    from sync import pki as pki_lib
    from tests.sync.nodes import NodeDB

    node = NodeDB(tmp_path / "posko-a", "posko-a")
    bundle = pki_lib.load_bundle(pki.bundle("posko-a"))
    bundle["broker"]["port"] = broker.port
    pki_lib.install_bundle(bundle, node.data_dir / "sync")
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "sync", "run", "--data-dir", str(node.data_dir)],
                            env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000",
                                 "PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ("READY=1" in got and got.count("WATCHDOG=1") >= 2):
            got.append(sock.recv(100).decode())
        assert got[0] == "READY=1" and got.count("WATCHDOG=1") >= 2
    finally:
        proc.terminate()
        proc.wait(10)
        sock.close()
    assert proc.returncode == 0
