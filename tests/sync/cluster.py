"""A small regency on one machine: central, two posko and a Damkar station, each with its own
SQLite file and its own `siaga112 sync run` process, joined by a real Mosquitto with TLS."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sync import pki as pki_lib
from sync.localnet import running, spawn, stop_process
from tests.sync.nodes import NodeDB

ROLES = {"central": "central", "posko-a": "posko", "posko-b": "posko", "damkar-1": "agency"}


class SyncNode(NodeDB):
    """A node's database plus its sync daemon process."""

    def __init__(self, root: Path, node_id: str, pki_dir: Path, broker_port: int) -> None:
        super().__init__(root / node_id, node_id, ROLES[node_id])
        bundle = pki_lib.load_bundle(pki_dir / node_id / "bundle.json")
        bundle["broker"]["port"] = broker_port
        pki_lib.install_bundle(bundle, self.data_dir / "sync")
        if ROLES[node_id] == "central":
            pki_lib.write_directory(pki_dir, self.data_dir / "sync" / "directory.json")
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "sync.log"

    def start(self, **env: str) -> None:
        self.proc = spawn([sys.executable, "-m", "edge.cli", "sync", "run", "--data-dir", str(self.data_dir)],
                          self.log_path, {"SIAGA112_LOG_LEVEL": "INFO", **env})

    def kill(self) -> None:
        """kill -9: no clean shutdown, no last words."""
        if running(self.proc):
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def alive(self) -> bool:
        return running(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Cluster:
    def __init__(self, root: Path, pki_dir: Path, broker) -> None:
        self.broker = broker
        self.nodes = {n: SyncNode(root, n, pki_dir, broker.port) for n in ROLES}

    def __getitem__(self, node_id: str) -> SyncNode:
        return self.nodes[node_id]

    def start(self, **env: str) -> None:
        for node in self.nodes.values():
            node.start(**env)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{node.log()[-3000:]}" for n, node in self.nodes.items()) + (
            f"\n--- broker ---\n{self.broker.log()[-2000:]}")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")


def status(node: SyncNode) -> dict:
    with node.use() as db:
        return {k: v for k, v in db.execute_sql("SELECT key, value FROM sync_status").fetchall()}


def progress(node: SyncNode) -> dict:
    return json.loads(status(node).get("progress", "{}"))
