"""An agency station on its own machine takes a radio dispatch into its inbox and answers it
over radio: a posko (this process) and a station (its own bridge and web app, separate
processes and database), enrolled in one regency so they share the agency's dispatch key,
joined by a KISS-over-TCP relay standing in for the air."""

from __future__ import annotations

import http.cookiejar
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from edge.models import Agency, Dispatch, Event, Incident
from firmware_bridge.bridge import Bridge
from firmware_bridge.dispatch_format import parse_reply, verify_reply
from sync import dispatch_keys
from sync.pki import init_ca, install_bundle, issue_node, load_bundle
from tests.bridge.conftest import wait_until
from tests.bridge.test_radio_link import Air, data_frames
from tests.conftest import PASSWORD

POSKO, STATION = "POSKO1", "DAMKR1"
CLI = [sys.executable, "-m", "edge.cli"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Web:
    """A cookie-keeping HTTP client that posts forms with the page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = ""

    def get(self, path: str) -> str:
        html = self.opener.open(self.base + path, timeout=10).read().decode()
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        self.token = found.group(1) if found else self.token
        return html

    def post(self, path: str, data: dict) -> str:
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}).encode()
        return self.opener.open(self.base + path, body, timeout=10).read().decode()


@pytest.fixture
def station(tmp_path, node):
    """The regency PKI, the posko (the `node` fixture) enrolled in it, and an agency station
    for DAMKAR created by the CLI from its own bundle, with a dispatcher account."""
    pki = tmp_path / "pki"
    init_ca(pki, "Diskominfotik Test")
    issue_node(pki, "central", "central")
    install_bundle(load_bundle(issue_node(pki, "posko-a", "posko")), node.data_dir / "sync")
    bundle = issue_node(pki, "damkar-1", "agency", "DAMKAR")
    data_dir = tmp_path / "damkar-1"
    subprocess.run(CLI + ["init", "--bundle", str(bundle), "--data-dir", str(data_dir)], check=True,
                   capture_output=True)
    subprocess.run(CLI + ["user", "add", "jaga", "--role", "agency", "--agency", "DAMKAR", "--password", PASSWORD,
                          "--data-dir", str(data_dir)], check=True, capture_output=True)
    return data_dir


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(CLI + args, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _station_rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "siaga112.sqlite3") as db:
        return db.execute(sql).fetchall()


def test_station_gets_the_dispatch_in_its_inbox_and_its_answer_moves_it_at_the_posko(node, login, station, tmp_path):
    Agency.update(radio_callsign=STATION).where(Agency.code == "DAMKAR").execute()
    op = login("operator")
    call_url = op.post("/calls", {"caller_number": "0812"}).location
    op.post(call_url + "/incident", {"incident_type": "3", "desa": "Senggoro", "situation": "gudang terbakar",
                                     "address": "Jl. Antara 5", "latitude": "1.4667", "longitude": "102.1"})
    op.post(f"/incidents/{Incident.get().id}/dispatch", {"agencies": ["DAMKAR"], "channel": "radio"})
    damkar = Dispatch.get()

    air, web_port = Air(), _free_port()
    procs = [
        _start(["bridge", "run", "--data-dir", str(station), "--radio", f"127.0.0.1:{air.port('B')}",
                "--callsign", STATION], tmp_path / "station-bridge.log"),
        _start(["serve", "--data-dir", str(station), "--port", str(web_port)], tmp_path / "station-web.log"),
    ]
    posko = Bridge(node.data_dir, radio=("127.0.0.1", air.port("A"), POSKO),
                   radio_options={"retry_initial": 0.5, "retry_factor": 2.0, "max_tries": 5})
    posko.poll_seconds = 0.2
    posko.start()
    try:
        air.wait_connected("A", "B")
        # The station verified it with the DAMKAR key from its own bundle and keeps it for its inbox.
        rows = wait_until(lambda: _station_rows(station, "SELECT id, code, channel, source, status, dispatch_id "
                                                         "FROM received_dispatch"), timeout=15, what="received")
        assert rows == [(rows[0][0], damkar.code, "radio", POSKO, "received", "")]
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "received", what="radio ack at the posko")

        web = Web(f"http://127.0.0.1:{web_port}")
        wait_until(lambda: _up(web), timeout=15, what="station web app")
        web.get("/login")
        web.post("/login", {"username": "jaga", "password": PASSWORD})
        inbox = web.get("/agency/inbox")
        card = re.search(r'<article class="card dispatch received-dispatch[^"]*" id="r-(\d+)"', inbox)
        assert card, inbox[:3000]
        assert f"#{damkar.code}" in inbox and "Jl. Antara 5" in inbox and "lewat radio" in inbox
        assert re.search(r'data-new-dispatches="1"', inbox), "a radio dispatch rings the alarm"

        web.post(f"/agency/received/{card.group(1)}/answer", {"status": "on_scene"})
        wait_until(lambda: Dispatch.get_by_id(damkar.id).status == "on_scene", timeout=15, what="answer applied")
        on_scene = Event.get(Event.kind == "dispatch.on_scene")
        assert on_scene.actor == "radio:DAMKAR" and '"channel": "radio"' in on_scene.detail
        reply_text, sent, acked = wait_until(lambda: [r for r in _station_rows(
            station, "SELECT text, sent_at, acked_at FROM outgoing_reply") if r[2]], timeout=15, what="reply acked")[0]
        reply = parse_reply(reply_text)
        assert reply.code == damkar.code and reply.auth is not None
        key = dispatch_keys.key_for(node.data_dir, "DAMKAR")
        dispatch_text = _station_rows(station, "SELECT text FROM received_dispatch")[0][0]
        from firmware_bridge.dispatch_format import auth_of

        verify_reply(reply, key, dispatch_auth=auth_of(dispatch_text), require_auth=True)

        # Heard again (a retransmission after a lost ack): still one dispatch at the station.
        posko.radio_channel.send(STATION, dispatch_text.encode("ascii"))
        wait_until(lambda: len(data_frames(air, "A")) >= 2, what="second copy on the air")
        time.sleep(1.0)
        assert len(_station_rows(station, "SELECT id FROM received_dispatch")) == 1
        assert 'data-new-dispatches="0"' in web.get("/agency/inbox/new")
        assert all(p.poll() is None for p in procs), "the station's daemons are still running"
    finally:
        posko.stop()
        for p in procs:
            p.terminate()
            p.wait(10)
        air.close()


def _up(web: Web) -> bool:
    try:
        web.get("/login")
        return True
    except OSError:
        return False
