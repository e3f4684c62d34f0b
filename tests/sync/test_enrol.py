"""Enrolling a node from the bundle central issued: `siaga112 init --bundle`."""

from __future__ import annotations

import json
import stat
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=60)


def test_init_with_bundle_takes_identity_and_keys(pki, tmp_path):
    data = tmp_path / "posko-a"
    result = run("init", "--bundle", str(pki.bundle("posko-a")), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "Node posko-a (posko)" in result.stdout and "Enrolled" in result.stdout
    config = json.loads((data / "sync" / "sync.json").read_text())
    assert config["node_id"] == "posko-a" and config["central"] == "central"
    assert stat.S_IMODE((data / "sync" / "sign.key").stat().st_mode) == 0o600
    status = run("sync", "status", "--data-dir", str(data))
    assert status.returncode == 0 and "connected: no" in status.stdout


def test_bundle_for_another_node_is_refused(pki, tmp_path):
    result = run("init", "--bundle", str(pki.bundle("posko-a")), "--node-id", "posko-b",
                 "--data-dir", str(tmp_path / "x"))
    assert result.returncode == 2 and "bundle is for node posko-a" in result.stderr
    assert not (tmp_path / "x" / "siaga112.sqlite3").exists()


def test_corrupt_bundle_is_refused(tmp_path):
    bad = tmp_path / "bundle.json"
    bad.write_text("{not json")
    result = run("init", "--bundle", str(bad), "--data-dir", str(tmp_path / "y"))
    assert result.returncode == 2 and "error:" in result.stderr


def test_sync_run_without_enrolment_says_what_to_do(tmp_path):
    data = tmp_path / "lonely"
    assert run("init", "--node-id", "lonely", "--data-dir", str(data)).returncode == 0
    result = run("sync", "run", "--data-dir", str(data))
    assert result.returncode == 2 and "init --bundle" in result.stderr
