"""The siaga112 command line, run as a real process (the installed console script)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from edge.cli import main

SIAGA = [sys.executable, "-m", "edge.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SIAGA, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def cli_node(tmp_path: Path) -> Path:
    data = tmp_path / "n1"
    result = run("init", "--role", "posko", "--node-id", "posko-cli", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert re.search(r"One-time password .*: \S{19}", result.stdout)
    return data


def test_init_refuses_to_overwrite(cli_node):
    again = run("init", "--node-id", "posko-cli", "--data-dir", str(cli_node))
    assert again.returncode == 2 and str(cli_node) in again.stderr


def test_init_recover_needs_the_nodes_bundle(tmp_path):
    refused = run("init", "--node-id", "posko-x", "--recover", "--data-dir", str(tmp_path / "x"))
    assert refused.returncode == 2 and "--recover" in refused.stderr and "--bundle" in refused.stderr
    assert not (tmp_path / "x" / "siaga112.sqlite3").exists()


def test_init_rejects_bad_node_id(tmp_path):
    bad = run("init", "--node-id", "Posko A!", "--data-dir", str(tmp_path / "x"))
    assert bad.returncode == 2 and "node_id" in bad.stderr


def test_user_add_and_token(cli_node):
    added = run("user", "add", "siti", "--role", "call_taker", "--data-dir", str(cli_node))
    assert added.returncode == 0 and "One-time password" in added.stdout
    agency = run("user", "add", "dk", "--role", "agency", "--data-dir", str(cli_node))
    assert agency.returncode == 2 and "agency" in agency.stderr
    ok = run("user", "add", "dk", "--role", "agency", "--agency", "damkar", "--data-dir", str(cli_node),
             env={"SIAGA112_PASSWORD": "a-long-password"})
    assert ok.returncode == 0 and "One-time" not in ok.stdout
    listed = run("user", "list", "--data-dir", str(cli_node)).stdout
    assert "siti\tcall_taker" in listed and "dk\tagency\tDAMKAR" in listed
    token = run("user", "token", "siti", "--data-dir", str(cli_node))
    assert token.returncode == 0 and token.stdout.startswith("s112_")
    missing = run("user", "token", "nobody", "--data-dir", str(cli_node))
    assert missing.returncode == 2
    trail = console_events(cli_node)
    assert [(kind, detail.get("username")) for _actor, kind, detail in trail] == [
        ("user.create", "siti"), ("user.create", "dk"), ("token.issue", "siti")]
    assert all(actor.startswith("console:") for actor, _k, _d in trail)
    assert "a-long-password" not in str(trail) and token.stdout.strip() not in str(trail)


def test_profile_load_validates(cli_node, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[profile]\nid = "x"\nextends = "bengkalis"\nname = "X"\nsurce = "typo"\n')
    result = run("profile", "load", str(broken), "--data-dir", str(cli_node))
    assert result.returncode == 2 and "surce" in result.stderr
    ok = run("profile", "load", "semarang", "--data-dir", str(cli_node))
    assert ok.returncode == 0 and "semarang" in ok.stdout
    assert [(k, d["to"]) for _a, k, d in console_events(cli_node)] == [("profile.load", "semarang")]


def console_events(data: Path) -> list[tuple[str, str, dict]]:
    """(actor, kind, detail) of the audit events the console wrote, oldest first."""
    import json
    import sqlite3

    con = sqlite3.connect(data / "siaga112.sqlite3")
    try:
        rows = con.execute("SELECT actor, kind, detail FROM event WHERE actor LIKE 'console:%' ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(actor, kind, json.loads(detail)) for actor, kind, detail in rows]


def test_commands_on_missing_node_fail_cleanly(tmp_path):
    result = run("user", "list", "--data-dir", str(tmp_path / "none"))
    assert result.returncode == 2 and "siaga112 init" in result.stderr


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_help_everywhere(path):
    result = run(*path, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout
