"""Backups under write load and their restore: every acknowledged case survives.

A real writer process records cases through the services and prints each case id only
after its commit returned; backups are taken meanwhile; the newest is restored into an
empty folder and must hold every case acknowledged before that backup started.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.db import DB_FILENAME, database_path
from edge.models import db_proxy
from edge.services.backup import (
    MANIFEST,
    BadBackup,
    NotSqlite,
    create_backup,
    integrity_check,
    list_backups,
    restore_backup,
    verify_backup,
)

SIAGA = [sys.executable, "-m", "edge.cli"]

WRITER = """
import sys
from edge.services.incidents import create_incident
from edge.services.node import open_node
from edge.services.users import get_user

db = open_node(sys.argv[1])
with db.connection_context():
    operator = get_user("operator")
n = 0
while True:
    n += 1
    with db.connection_context():
        incident = create_incident(operator, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": "Senggoro",
                                              "situation": f"Kebakaran gudang {n}"}).incident
    print(incident.id, flush=True)  # acknowledged: the commit has returned
"""

HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("SELECT count(*) FROM node_setting").fetchall()
print("open", flush=True)
sys.stdin.read()
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SIAGA, *args], capture_output=True, text=True, timeout=120)


class Writer:
    """The writer process and the case ids it acknowledged, in order."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.lock:
                self.acked.append(line.strip())

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.acked)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < count:
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline, f"writer acknowledged only {len(self.snapshot())} cases"
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()  # like a power cut: no clean shutdown
        self.proc.wait(10)
        self.thread.join(10)


def incident_ids(db_path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as con:
        return {row[0] for row in con.execute("SELECT id FROM incident")}


@pytest.fixture
def closed_node(node):
    """The `node` fixture with this test process's own connection closed (only other processes use it),
    with the secret key the web app makes and a sync key file of an enrolled node."""
    db_proxy.obj.close()
    (node.data_dir / "secret_key").write_text("5e" * 32)
    (node.data_dir / "sync").mkdir(mode=0o700)
    (node.data_dir / "sync" / "node.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (node.data_dir / "sync" / "node.key").chmod(0o600)
    return node


def test_backup_under_write_load_restores_every_acknowledged_case(closed_node, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    writer = Writer(closed_node.data_dir)
    try:
        writer.wait_for(20)
        acked_before = []
        for _ in range(3):
            acked_before = writer.snapshot()
            info = create_backup(closed_node.data_dir, dest, keep=2)
            writer.wait_for(len(writer.snapshot()) + 5)  # the writer goes on between and during backups
            time.sleep(1.1)  # backup names have one-second resolution
        during = len(writer.snapshot()) - len(acked_before)
    finally:
        writer.kill()
    assert during >= 5
    assert [b.path for b in list_backups(dest)][0] == info.path
    assert len(list_backups(dest)) == 2  # rotation: --keep 2

    fresh = tmp_path / "restored"
    result = run("restore", str(info.path), "--data-dir", str(fresh))
    assert result.returncode == 0, result.stderr
    assert "enrolled" not in result.stderr  # a standalone node: no sync warning
    restored = incident_ids(database_path(fresh))
    missing = set(acked_before) - restored
    assert not missing, f"{len(missing)} acknowledged cases missing from the restored backup"
    assert integrity_check(database_path(fresh)) == []
    assert (fresh / "secret_key").read_text() == (closed_node.data_dir / "secret_key").read_text()
    assert (fresh / "sync" / "node.key").stat().st_mode & 0o777 == 0o600
    audit = run("audit", "verify", "--data-dir", str(fresh))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert ", 0 problems" in audit.stdout


def test_rotation_keeps_the_newest(closed_node, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    (dest / ".partial-20261031T020000Z-999").mkdir(parents=True)  # a backup killed midway
    for day in range(5):
        create_backup(closed_node.data_dir, dest, keep=3, now=start + timedelta(days=day))
    names = [b.path.name for b in list_backups(dest)]
    assert names == [f"siaga112-posko-test-202611{d:02d}T020000Z" for d in (5, 4, 3)]
    assert not list(dest.glob(".partial-*"))
    listed = run("backup", "list", "--to", str(dest), "--data-dir", str(closed_node.data_dir))
    assert listed.returncode == 0 and listed.stdout.count("\tok") == 3, listed.stdout


def test_cli_backup_and_verify(closed_node, tmp_path: Path) -> None:
    result = run("backup", "--data-dir", str(closed_node.data_dir), "--to", str(tmp_path / "b"), "--keep", "2")
    assert result.returncode == 0, result.stderr
    (only,) = list_backups(tmp_path / "b")
    info = verify_backup(only.path)
    assert info.manifest["node_id"] == "posko-test" and info.manifest["integrity_check"] == "ok"
    assert "files/secret_key" in info.manifest["files"]


def test_restore_refuses_a_node_in_use_without_force(closed_node, tmp_path: Path) -> None:
    data = closed_node.data_dir
    (data / "sync" / "sync.json").write_text('{"node_id": "posko-test"}')  # an enrolled node
    info = create_backup(data, tmp_path / "b")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database_path(data))], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = run("restore", str(info.path), "--data-dir", str(data))
        assert refused.returncode == 2
        assert "is in use" in refused.stderr and str(holder.pid) in refused.stderr
        assert "stop siaga112-web, siaga112-sync" in refused.stderr
        assert not list(data.glob("replaced-*"))  # nothing touched
    finally:
        holder.stdin.close()
        holder.wait(10)
    # Stopped: the same restore goes through and keeps the old database aside.
    done = run("restore", str(info.path), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "this node rejoins its peers when siaga112-sync starts" in done.stdout
    (aside,) = data.glob("replaced-*")
    assert integrity_check(aside / DB_FILENAME) == []


def test_restore_with_force_replaces_a_node_in_use(closed_node, tmp_path: Path) -> None:
    data = closed_node.data_dir
    info = create_backup(data, tmp_path / "b")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database_path(data))], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = run("restore", str(info.path), "--data-dir", str(data), "--force")
        assert result.returncode == 0, result.stderr
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert integrity_check(database_path(data)) == []


def test_a_corrupt_backup_is_refused(closed_node, tmp_path: Path) -> None:
    info = create_backup(closed_node.data_dir, tmp_path / "b")
    db_copy = info.path / DB_FILENAME
    with db_copy.open("r+b") as fh:
        fh.seek(db_copy.stat().st_size // 2)
        fh.write(os.urandom(64))
    target = tmp_path / "fresh"
    result = run("restore", str(info.path), "--data-dir", str(target))
    assert result.returncode == 2
    assert "does not match its checksum (the backup is corrupt)" in result.stderr
    assert not database_path(target).exists()
    (info.path / MANIFEST).unlink()
    with pytest.raises(BadBackup, match="no readable MANIFEST.json"):
        restore_backup(info.path, target)
    with pytest.raises(BadBackup, match="not a Siaga 112 backup folder"):
        restore_backup(tmp_path, target)


def test_postgresql_node_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    data = tmp_path / "central"
    data.mkdir()
    (data / "database_url").write_text("postgresql://siaga112@db:5432/siaga112\n")
    with pytest.raises(NotSqlite, match="pg_dump"):
        create_backup(data, tmp_path / "b")
    result = run("backup", "--data-dir", str(data), "--to", str(tmp_path / "b"))
    assert result.returncode == 2 and "covers SQLite nodes only" in result.stderr
    assert "Traceback" not in result.stderr


def test_backup_with_the_node_config(closed_node, tmp_path: Path) -> None:
    """--config: the data folder and [backup] dir and keep come from siaga112.toml (as the timer runs it)."""
    dest = tmp_path / "from-config"
    config = tmp_path / "siaga112.toml"
    config.write_text(f'[node]\nid = "posko-test"\nrole = "posko"\ndata_dir = "{closed_node.data_dir}"\n\n'
                      f'[backup]\ndir = "{dest}"\nkeep = 1\n')
    for _ in range(2):
        result = run("backup", "--config", str(config))
        assert result.returncode == 0, result.stderr
        time.sleep(1.1)
    assert len(list_backups(dest)) == 1


UNITS = ("siaga112-backup.service", "siaga112-backup.timer")


def test_backup_timer_and_service_units(tmp_path: Path) -> None:
    import shutil

    from edge.install import UNIT_SOURCE, render_unit

    timer = (UNIT_SOURCE / "siaga112-backup.timer").read_text()
    for line in ("Persistent=true", "RandomizedDelaySec=1h", "OnCalendar=*-*-* 02:30:00", "WantedBy=timers.target"):
        assert line in timer.splitlines()
    service = (UNIT_SOURCE / "siaga112-backup.service").read_text()
    assert "Type=oneshot" in service and "ExecStart=/opt/siaga112/venv/bin/siaga112 backup --config" in service
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    for name in UNITS:
        (tmp_path / name).write_text(render_unit(name, Path(sys.prefix), Path("/var/lib/siaga112")))
    done = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in UNITS)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files for another user")
def test_restore_as_root_leaves_files_to_the_data_folder_owner(closed_node, tmp_path: Path) -> None:
    info = create_backup(closed_node.data_dir, tmp_path / "b")
    target = tmp_path / "new-machine"
    target.mkdir()
    os.chown(target, 4242, 4242)  # the service user's data folder, made by `siaga112 install`
    restore_backup(info.path, target)
    for path in (database_path(target), target / "secret_key", target / "sync", target / "sync" / "node.key"):
        assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4242), path
