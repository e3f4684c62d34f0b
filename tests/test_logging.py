"""Logs: the journald and JSON formats (edge/logsetup.py), the entry points that use them, and
the guard that keeps callers' numbers, names and texts out of every record at INFO and above.

The guard runs the flows that carry personal data for real (a call rings on the emulated modem,
a caller's SMS, a case with the reporter's name and situation, a dispatch by radio to a station
and its answer) and searches everything logged at INFO for the caller's number in each spelling,
the name and the texts.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge import logsetup
from edge.cli import main
from edge.models import Agency, Call, Dispatch, Event, Incident, RadioInbox
from firmware_bridge.bridge import Bridge
from tests.bridge.conftest import modem_emulator, wait_until  # noqa: F401 - modem_emulator is a fixture
from tests.bridge.test_radio_link import Air
from tests.procs import wait_serving

NUMBER = "081298765432"  # the test caller's number; the modem reports it as +6281298765432
NAME = "Siti Rahmawati"
SMS_TEXT = "Tolong ada orang tenggelam di sungai dekat jembatan Lubuk Gaung"
SITUATION = "Suami saya jatuh dari tangga dan tidak sadar sejak tadi"
NOTES = "Pelapor menangis, minta ambulans segera"
TEXTS = (NAME, SMS_TEXT, SITUATION, NOTES)
POSKO, STATION = "POSKO1", "DAMKR1"
FAST = {"retry_initial": 0.5, "retry_factor": 2.0, "max_tries": 5}
PRIORITY = re.compile(r"^<(\d)>")


@pytest.fixture(autouse=True)
def _restore_logging():
    """configure() changes the root logger: put back what pytest had."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logsetup.set_node_id(None)


def number_spellings(number: str) -> re.Pattern:
    """0812 9876 5432, 0812-9876-5432, 62812…, +62 812…: any of them, separators or not."""
    core = number[1:]  # 81298765432
    digits = r"[\s-]?".join(core)
    return re.compile(rf"(?:\+?62|0)?[\s-]?{digits}")


def leaks(text: str) -> list[str]:
    found = [m.group(0) for m in number_spellings(NUMBER).finditer(text)]
    found += [t for t in TEXTS if t.lower() in text.lower()]
    found += [w for w in ("tenggelam", "Rahmawati", "tidak sadar", "menangis") if w.lower() in text.lower()]
    return found


# --- formats ---------------------------------------------------------------------------------


def _log_every_level(name: str = "siaga112.test") -> None:
    log = logging.getLogger(name)
    log.debug("debug line")
    log.info("info line")
    log.warning("warning line")
    log.error("error line")
    log.critical("critical line")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("it failed")


def test_under_journald_every_line_has_its_syslog_priority_and_no_time(tmp_path, monkeypatch):
    out = (tmp_path / "journal").open("w")
    st = os.fstat(out.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")  # what systemd sets for the journal
    monkeypatch.setattr(sys, "stdout", out)
    assert logsetup.under_journald(out) and not logsetup.under_journald(sys.stderr)
    logsetup.configure("DEBUG", "text", force=True)
    _log_every_level()
    out.flush()
    lines = (tmp_path / "journal").read_text().splitlines()
    assert [PRIORITY.match(line).group(1) for line in lines[:5]] == ["7", "6", "4", "3", "2"]
    assert lines[0] == "<7>DEBUG siaga112.test: debug line"
    assert lines[2] == "<4>WARNING siaga112.test: warning line"
    traceback = lines[5:]
    assert traceback[0] == "<3>ERROR siaga112.test: it failed" and len(traceback) > 3
    assert all(line.startswith("<3>") for line in traceback), traceback  # journalctl -p err keeps it whole
    assert not any(re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d", line) for line in lines), lines


def test_journal_stream_of_another_file_is_not_the_journal(tmp_path, monkeypatch):
    """$JOURNAL_STREAM is inherited: a shell started from a unit writes to a terminal, not the journal."""
    other = (tmp_path / "other").open("w")
    st = os.fstat(other.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    logsetup.configure("INFO", "text", force=True)
    logging.getLogger("siaga112.test").warning("hello")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING siaga112\.test: hello\n", stream.getvalue())


def test_json_lines_parse_with_every_required_field(tmp_path):
    stream = io.StringIO()
    logsetup.configure("DEBUG", "json", node="posko-a", stream=stream)
    log = logging.getLogger("siaga112.test")
    log.info("dispatch %s sent", 7, extra={"dispatch_id": 7, "channel": "radio"})
    log.warning("ünïcode and \"quotes\"\nand a second line")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("it failed")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 3  # one line per record, even with newlines in the message
    for record in records:
        assert {"time", "level", "logger", "message", "node"} <= set(record)
        assert record["node"] == "posko-a" and record["logger"] == "siaga112.test"
        when = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        assert when.utcoffset().total_seconds() == 0 and abs(datetime.now(UTC) - when).total_seconds() < 60
    assert records[0]["level"] == "INFO" and records[0]["message"] == "dispatch 7 sent"
    assert records[0]["dispatch_id"] == 7 and records[0]["channel"] == "radio"
    assert records[1]["message"] == "ünïcode and \"quotes\"\nand a second line"
    assert records[2]["level"] == "ERROR" and "ValueError: bad" in records[2]["exception"]


def test_json_under_journald_keeps_the_priority_prefix(tmp_path, monkeypatch):
    out = (tmp_path / "journal").open("w")
    st = os.fstat(out.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    monkeypatch.setattr(sys, "stdout", out)
    logsetup.configure("INFO", "json", force=True)
    logging.getLogger("siaga112.test").warning("careful")
    out.flush()
    line = (tmp_path / "journal").read_text()
    assert line.startswith("<4>{") and json.loads(line[3:])["message"] == "careful"


def test_level_and_format_come_from_the_environment_and_bad_ones_are_refused(node, monkeypatch):
    monkeypatch.setenv("SIAGA112_LOG_LEVEL", "warning")
    monkeypatch.setenv("SIAGA112_LOG_FORMAT", "JSON")
    handler = logsetup.configure(force=True)
    assert logging.getLogger().level == logging.WARNING and isinstance(handler.formatter, logsetup.JsonFormatter)
    assert logsetup.configure(force=True) is not handler and handler not in logging.getLogger().handlers  # replaced
    assert logsetup.configure() is None  # pytest's own handlers are on the root logger: left alone
    monkeypatch.setenv("SIAGA112_LOG_FORMAT", "xml")
    with pytest.raises(logsetup.BadLogSetting, match="xml"):
        logsetup.configure()
    result = CliRunner().invoke(main, ["sync", "status", "--data-dir", str(node.data_dir)])
    assert result.exit_code == 2 and "log format 'xml'" in result.output


def test_config_file_log_section_sets_level_format_and_node(tmp_path):
    """What `sync run --config` and `bridge run --config` do first (edge.config.load_for_cli)."""
    from edge.config import ConfigError, load_config

    path = tmp_path / "siaga112.toml"
    path.write_text('[node]\nid = "posko-rupat"\nrole = "posko"\ndata_dir = "/var/lib/siaga112"\n'
                    '[log]\nlevel = "warning"\nformat = "json"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA112_", "JOURNAL_STREAM"))}
    code = f"import logging\nfrom edge.cli import main\nfrom edge.config import load_for_cli\n" \
           f"main.callback(); load_for_cli({str(path)!r}); log = logging.getLogger('siaga112.sync')\n" \
           f"log.info('not shown'); log.warning('shown')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["message"], r["node"], r["level"]) for r in records] == [("shown", "posko-rupat", "WARNING")]
    path.write_text(path.read_text().replace('"json"', '"yaml"'))
    with pytest.raises(ConfigError, match=r"\[log\] format: expected one of text, json, found 'yaml'"):
        load_config(path)


def test_access_lines_have_phone_numbers_masked():
    stream = io.StringIO()
    logsetup.configure("INFO", "text", stream=stream)
    logging.getLogger("werkzeug").info('%s - - [%s] "%s" %s -', "127.0.0.1", "25/Nov/2026 11:00:00",
                                       f"GET /api/v1/callers/+62{NUMBER[1:]} HTTP/1.1", 200)
    assert "/api/v1/callers/0812****432" in stream.getvalue() and not leaks(stream.getvalue())


def test_mask_helpers_reuse_the_privacy_masking():
    assert logsetup.masked_number("+6281298765432") == logsetup.masked_number(NUMBER) == "0812****432"
    assert logsetup.redacted(f"+CMT: \"+62{NUMBER[1:]}\",,\"26/11/25\"") == '+CMT: "0812****432",,"26/11/25"'
    assert logsetup.redacted("POSKO1") == "POSKO1" and logsetup.masked_number("") == ""


# --- the entry points -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_and_app_records_share_the_json_format(node, tmp_path):
    """siaga112-web's gunicorn (edge/gunicorn_conf.py) hands its own records to the same handler."""
    port = _free_port()
    config = tmp_path / "siaga112.toml"
    config.write_text(f'[node]\nid = "posko-a"\nrole = "posko"\ndata_dir = "{node.data_dir}"\n'
                      f'[web]\nport = {port}\nworkers = 1\nthreads = 1\n[log]\nformat = "json"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA112_", "JOURNAL_STREAM"))}
    env["SIAGA112_CONFIG"] = str(config)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "python:edge.gunicorn_conf",
                             "edge.wsgi:app"], env=env, cwd=Path(__file__).parent.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_serving(f"http://127.0.0.1:{port}/login", proc, what="gunicorn") == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON
    booting = [r for r in records if "Booting worker" in r["message"]]
    assert booting and booting[0]["logger"] == "gunicorn.error" and booting[0]["node"] == "posko-a", err
    assert not out


def test_cli_logs_to_stderr_and_keeps_stdout_for_output(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA112_", "JOURNAL_STREAM"))}
    env.update(SIAGA112_LOG_FORMAT="json", SIAGA112_LOG_LEVEL="DEBUG")
    code = "import logging, sys; sys.argv = ['siaga112', 'sim', '--help']\n" \
           "from edge.cli import main\n" \
           "main.callback(); logging.getLogger('siaga112.test').info('hello'); print('output')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "output\n" and json.loads(done.stderr.splitlines()[-1])["message"] == "hello"


def test_cli_under_systemd_logs_priority_lines_to_stdout(tmp_path):
    """As siaga112-sync/-bridge run it: stdout is the journal's stream, named by $JOURNAL_STREAM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA112_", "JOURNAL_STREAM"))}
    out_path = tmp_path / "journal"
    code = "import logging\nfrom edge.cli import main\n" \
           "main.callback(); logging.getLogger('siaga112.sync').warning('disconnected from broker')"
    with out_path.open("w") as out:
        st = os.fstat(out.fileno())
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        done = subprocess.run([sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert out_path.read_text() == "<4>WARNING siaga112.sync: disconnected from broker\n"


# --- the guard: no caller data at INFO --------------------------------------------------------


def _bridge(node, air: Air, side: str, call: str, modem_port: str | None = None) -> Bridge:
    modem = {"timeout": 1.0, "poll_interval": 0.5, "backoff": (0.2, 1.0)} if modem_port else {}
    bridge = Bridge(node.data_dir, modem_port, radio=("127.0.0.1", air.port(side), call), radio_options=FAST,
                    **modem)
    bridge.poll_seconds = 0.2
    return bridge


def test_no_caller_number_name_or_text_is_logged_at_info(node, login, modem_emulator, caplog):  # noqa: F811
    stream = io.StringIO()
    logsetup.configure("INFO", "json", node="posko-a", stream=stream)
    caplog.set_level(logging.INFO)
    Agency.update(radio_callsign=STATION).where(Agency.code == "DAMKAR").execute()
    air = Air()
    posko = _bridge(node, air, "A", POSKO, str(modem_emulator.port))
    station = _bridge(node, air, "B", STATION)
    posko.start()
    station.start()
    try:
        air.wait_connected("A", "B")
        assert posko.modem.wait_ready(10)
        # A call rings (caller id in international form) and the same caller sends an SMS.
        modem_emulator.ring("+62" + NUMBER[1:], times=2, interval=0.3)
        call = wait_until(lambda: Call.get_or_none(Call.source == "gsm"), what="call on the board")
        modem_emulator.receive_sms("62" + NUMBER[1:], SMS_TEXT)
        wait_until(lambda: Call.get_or_none(Call.source == "sms"), what="SMS kept as a call")
        assert Call.get(Call.source == "sms").notes == SMS_TEXT
        # The call-taker answers, records the case with the reporter's name, and dispatches by radio.
        op = login("operator")
        assert op.post(f"/calls/{call.id}/answer").status_code == 302
        made = op.post(f"/calls/{call.id}/incident", {
            "incident_type": "3", "desa": "Senggoro", "address": "Jl. Pramuka 7", "situation": SITUATION,
            "reporter_name": NAME, "reporter_number": "0812-9876-5432", "initial_handling": NOTES,
            "victims_count": "1", "victims_condition": "injured"})
        assert made.status_code == 302, made.get_data(as_text=True)
        incident = Incident.get()
        assert incident.reporter_name == NAME and incident.situation == SITUATION
        op.post(f"/incidents/{incident.id}/dispatch", {"agencies": ["DAMKAR"], "channel": "radio"})
        damkar = Dispatch.get()
        wait_until(lambda: RadioInbox.get_or_none(RadioInbox.kind == "dispatch"), what="dispatch heard")
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "received", what="radio ack")
        # The station answers by radio, and an SMS reply comes from the agency's phone.
        station.radio_channel.send(POSKO, f"TIBA {damkar.code}".encode())
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "on_scene", what="reply applied")
        Agency.update(phone="081311112222").where(Agency.code == "DAMKAR").execute()
        modem_emulator.receive_sms("081311112222", f"SELESAI {damkar.code}")
        wait_until(lambda: Event.get_or_none(Event.kind == "dispatch.finished"), what="SMS reply applied")
    finally:
        posko.stop()
        station.stop()
        air.close()
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    texts = [r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
             for r in records]
    everything = "\n".join(texts) + "\n" + stream.getvalue()
    bad = {t: leaks(t) for t in texts + stream.getvalue().splitlines() if leaks(t)}
    assert not bad, bad
    # The flows did log (the guard would be blind otherwise): the call, masked; the dispatch, in full.
    assert "incoming call from 0812****432" in everything, everything
    assert f"RADIO DISPATCH #{damkar.code}" in everything and "SMS from caller" in everything


def test_the_guard_sees_the_number_at_debug(node, modem_emulator, caplog):  # noqa: F811
    """DEBUG is for troubleshooting and logs the modem's words as they are: the search finds it."""
    caplog.set_level(logging.DEBUG, logger="siaga112.bridge.modem")
    bridge = Bridge(node.data_dir, str(modem_emulator.port), timeout=1.0, poll_interval=0.5, backoff=(0.2, 1.0))
    bridge.start()
    try:
        assert bridge.modem.wait_ready(10)
        modem_emulator.ring("+62" + NUMBER[1:], times=1)
        wait_until(lambda: Call.get_or_none(Call.source == "gsm"), what="call on the board")
    finally:
        bridge.stop()
    assert any(leaks(r.getMessage()) for r in caplog.records if r.levelno == logging.DEBUG)
