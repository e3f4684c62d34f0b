"""The node's siaga112.toml (edge/config.py): every wrong value named, env overrides, daemons that use it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, all_keys, env_name, load_config, render, validate
from sync import pki as pki_lib
from sync.localnet import free_port
from tests.procs import wait_serving

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = {"node": {"id": "posko-a", "role": "posko"}}


def with_(section: str, **values: object) -> dict:
    data = {s: dict(t) for s, t in MINIMAL.items()}
    data.setdefault(section, {}).update(values)
    return data


def problems(data: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(data, "test.toml", environ or {})
    return info.value.problems


def test_minimal_file_gets_the_documented_defaults():
    config = validate(MINIMAL, "test.toml", {})
    assert (config.node.id, config.node.role, config.node.data_dir) == ("posko-a", "posko", "/var/lib/siaga112")
    assert (config.web.bind, config.web.port, config.web.workers) == ("127.0.0.1", 8112, 2)
    assert (config.sync.broker_host, config.sync.broker_port) == ("", 0)
    assert not config.bridge_enabled
    assert config.log.level == "INFO" and config.backup.keep == 14


@pytest.mark.parametrize(("data", "message"), [
    ({"node": {"role": "posko"}}, "[node] id: missing; expected the node id"),
    ({"node": {"id": "posko-a"}}, "[node] role: missing; expected posko, agency or central"),
    (with_("node", id="Posko A"), "[node] id: expected 2-32 lower-case letters, digits or '-', e.g. posko-bengkalis, "
                                  "found 'Posko A'"),
    (with_("node", role="kantor"), "[node] role: expected one of posko, agency, central, found 'kantor'"),
    (with_("node", data_dir="data"), "[node] data_dir: expected an absolute path, e.g. /var/lib/siaga112, "
                                     "found 'data'"),
    (with_("web", port="8112"), "[web] port: expected an integer, found '8112'"),
    (with_("web", port=True), "[web] port: expected an integer, found True"),
    (with_("web", port=70000), "[web] port: expected a TCP port 1-65535, found 70000"),
    (with_("web", bind="localhost"), "[web] bind: expected an IP address"),
    (with_("web", bind=127), "[web] bind: expected a string, found 127"),
    (with_("web", workers=0), "[web] workers: expected 1-16 worker processes, found 0"),
    (with_("sync", broker_host="bad host!"), "[sync] broker_host: expected a host name or IP address"),
    (with_("sync", broker_port=-1), "[sync] broker_port: expected a TCP port 1-65535, found -1"),
    (with_("bridge", modem="ttyUSB0"),
     "[bridge] modem: expected a serial device path /dev/..., e.g. /dev/siaga-modem, found 'ttyUSB0'"),
    (with_("bridge", radio="direwolf", callsign="POSKO1"), "[bridge] radio: expected HOST:PORT"),
    (with_("bridge", radio="127.0.0.1:8001", callsign="NOT A CALL"), "[bridge] callsign: expected"),
    (with_("bridge", radio="127.0.0.1:8001"), "[bridge] radio and callsign go together"),
    ({"node": {"id": "central", "role": "central"}, "bridge": {"modem": "/dev/siaga-modem"}},
     "[bridge]: central runs no bridge"),
    (with_("backup", dir="backups"), "[backup] dir: expected an absolute path"),
    (with_("backup", keep=0), "[backup] keep: expected how many backups to keep, 1-1000, found 0"),
    (with_("log", level="LOUD"), "[log] level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, found 'LOUD'"),
    (with_("web", prot=8112), "[web] prot: unknown key (known: bind, port, workers, threads)"),
    ({**MINIMAL, "database": {"url": "x"}}, "[database]: unknown section (known: node, web, sync, bridge"),
    ({**MINIMAL, "web": 8112}, "web: expected a [web] table, found an integer"),
])
def test_every_wrong_value_is_named_with_what_was_expected(data, message):
    found = problems(data)
    assert any(p.startswith(message) for p in found), found


def test_all_problems_are_reported_at_once():
    found = problems({"node": {"id": "X"}, "web": {"port": "x", "bind": "nowhere"}, "log": {"level": 3}})
    assert len(found) == 5, found  # id, role (missing), port, bind, level


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[node\nid = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(broken)
    assert info.value.lines()[0].startswith(f"error: {broken}: not valid TOML")


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "siaga112.toml"
    path.write_text(render({"node": {"id": "posko-a", "role": "posko"}, "web": {"port": 8112}}))
    env = {"SIAGA112_WEB_PORT": "9000", "SIAGA112_WEB_BIND": "0.0.0.0", "SIAGA112_NODE_DATA_DIR": "/srv/siaga",
           "SIAGA112_LOG_LEVEL": "debug", "SIAGA112_SYNC_BROKER_HOST": "10.20.0.1"}
    config = load_config(path, env)
    assert (config.web.port, config.web.bind, config.node.data_dir) == (9000, "0.0.0.0", "/srv/siaga")
    assert (config.log.level, config.sync.broker_host) == ("debug", "10.20.0.1")
    assert load_config(path, {}).web.port == 8112
    with pytest.raises(ConfigError) as info:
        load_config(path, {"SIAGA112_WEB_PORT": "eighty"})
    assert info.value.problems == ["[web] port (from $SIAGA112_WEB_PORT): expected an integer, found 'eighty'"]


def test_render_writes_every_key_and_refuses_bad_values():
    text = render({"node": {"id": "damkar-1", "role": "agency"}, "bridge": {"radio": "/dev/siaga-tnc@9600",
                                                                            "callsign": "DAMKR1"}})
    data = tomllib.loads(text)
    assert [(s, k) for s, k, _, _ in all_keys()] == [(s, k) for s in data for k in data[s]]
    assert validate(data, "x", {}).bridge_enabled
    with pytest.raises(ConfigError, match=r"\[web\] port"):
        render({**MINIMAL, "web": {"port": 0}})


def test_docs_describe_every_key_and_its_variable():
    doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for section, name, _, _ in all_keys():
        assert re.search(rf"`{name}`", doc) and f"[{section}]" in doc, (section, name)
        assert env_name(section, name) in doc, env_name(section, name)


# --- daemons started with --config ---------------------------------------------------------------


def write_config(path: Path, data_dir: Path, **sections: dict) -> Path:
    values = {"node": {"id": "posko-test", "role": "posko", "data_dir": str(data_dir)}, **sections}
    path.write_text(render(values), encoding="utf-8")
    return path


def run_until(cmd: list[str], pattern: str, env: dict[str, str], timeout: float = 30) -> str:
    """Start a daemon, read its stderr until `pattern` appears (or it exits), stop it; the output so far."""
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, **env})
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if re.search(pattern, line):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return "".join(lines)


def test_sync_run_takes_data_dir_and_broker_from_the_config(tmp_path):
    pki_dir = tmp_path / "pki"
    pki_lib.init_ca(pki_dir, "Test")
    pki_lib.issue_node(pki_dir, "central", "central")
    bundle = pki_lib.issue_node(pki_dir, "posko-a", "posko", areas=["Bengkalis"])
    data = tmp_path / "posko-a"
    done = subprocess.run([sys.executable, "-m", "edge.cli", "init", "--bundle", str(bundle), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "siaga112.toml"
    config.write_text(render({"node": {"id": "posko-a", "role": "posko", "data_dir": str(data)},
                              "sync": {"broker_host": "10.9.8.7"}}))
    port = str(free_port())
    out = run_until([sys.executable, "-m", "edge.cli", "sync", "run", "--config", str(config)], r"started; broker",
                    {"SIAGA112_SYNC_BROKER_PORT": port, "SIAGA112_DATA_DIR": str(tmp_path / "elsewhere")})
    assert f"sync posko-a (posko) started; broker 10.9.8.7:{port}" in out, out


def test_bridge_run_takes_radio_and_callsign_from_the_config(node, tmp_path):
    tnc = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "siaga112.toml", node.data_dir, bridge={"radio": tnc, "callsign": "POSKO1"})
    out = run_until([sys.executable, "-m", "edge.cli", "bridge", "run", "--config", str(config)], r"bridge started",
                    {})
    assert f"bridge started: radio POSKO1 via TNC {tnc}" in out, out


def test_a_bad_config_stops_the_daemon_with_its_messages(tmp_path):
    config = tmp_path / "siaga112.toml"
    config.write_text('[node]\nid = "posko-a"\nrole = "posko"\n[web]\nport = "http"\n')
    for args in (["serve"], ["sync", "run"], ["bridge", "run"]):
        done = subprocess.run([sys.executable, "-m", "edge.cli", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert f"error: {config}: [web] port: expected an integer, found 'http'" in done.stderr


def test_gunicorn_listens_where_the_config_says(node, tmp_path):
    """The production web server (siaga112-web.service's ExecStart) with the config and an env override."""
    port = free_port()
    config = write_config(tmp_path / "siaga112.toml", node.data_dir, web={"port": 1, "workers": 1})
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--config", "python:edge.gunicorn_conf",
                             "edge.wsgi:app"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "SIAGA112_CONFIG": str(config),
                                            "SIAGA112_WEB_PORT": str(port), "SIAGA112_DATA_DIR": "/nonexistent"})
    try:
        assert wait_serving(f"http://127.0.0.1:{port}/login", proc, what="gunicorn") == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"Listening at: http://127.0.0.1:{port}" in err, err


def test_serve_options_beat_the_config(node, tmp_path):
    port = free_port()
    config = write_config(tmp_path / "siaga112.toml", node.data_dir, web={"port": free_port()})
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "serve", "--config", str(config), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_serving(f"http://127.0.0.1:{port}/login", proc, what="siaga112 serve") == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
