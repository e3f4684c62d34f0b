"""KissTcpLink and ReliableChannel over a real TCP "air": no mocks.

`Air` is a small KISS relay on 127.0.0.1 with one listening port per station, like two
TNCs on one frequency: every KISS frame one station's link writes is delivered to the other
station's link, or dropped or duplicated by a deterministic rule. Stations are real
KissTcpLink objects (real sockets, reader threads, reconnects) with the real codecs.

The optional Dire Wolf test at the end follows ../shared/notes/radio-and-modem-testing.md:
two direwolf processes whose audio is joined by a real-time relay, no sound card.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware_bridge.dispatch_format import DispatchMessage, ReplyAction, parse, parse_reply, render, render_reply
from firmware_bridge.radio import ax25, kiss
from firmware_bridge.radio.link import ReliableChannel, pack_message, unpack
from firmware_bridge.radio.tnc import KissTcpLink, LinkDown
from tests.bridge.conftest import wait_until

SECRET = b"damkar-shared-secret"
POSKO, DAMKAR = "POSKO1", "DAMKAR-1"
DISPATCH = DispatchMessage("4821", "posko-bengkalis-2025-00012", 3, "KEBAKARAN", 1, "Bengkalis", "Senggoro",
                           "Jl. Pramuka 7 (Msj Al-Ikhlas)", 1.4671, 102.1102, 2, "injured", True)
Rule = Callable[[str, int, bytes], int]  # (from side, index of its frame, raw frame) -> copies to deliver


class Air:
    """Two KISS TCP ports; each frame from one side goes to the other side `rule(...)` times."""

    def __init__(self, rule: Rule | None = None) -> None:
        self.rule = rule or (lambda side, i, raw: 1)
        self.heard: dict[str, list[bytes]] = {"A": [], "B": []}  # raw frames each side transmitted
        self._conns: dict[str, socket.socket | None] = {"A": None, "B": None}
        self._servers: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        for side in ("A", "B"):
            srv = socket.create_server(("127.0.0.1", 0))
            self._servers[side] = srv
            threading.Thread(target=self._accept, args=(side, srv), daemon=True).start()

    def port(self, side: str) -> int:
        return self._servers[side].getsockname()[1]

    def wait_connected(self, *sides: str, timeout: float = 5.0) -> None:
        with self._ready:
            assert self._ready.wait_for(lambda: all(self._conns[s] for s in sides), timeout), "station not on air"

    def inject(self, side: str, data: bytes) -> None:
        """Raw bytes straight to a station's TNC connection (noise, corrupt frames)."""
        with self._lock:
            conn = self._conns[side]
        assert conn is not None
        conn.sendall(data)

    def cut(self, side: str) -> None:
        """Drop a station's TCP connection, as a TNC restart would."""
        with self._lock:
            conn, self._conns[side] = self._conns[side], None
        if conn is not None:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        self._closed = True
        for side in ("A", "B"):
            self.cut(side)
            self._servers[side].close()

    def _accept(self, side: str, srv: socket.socket) -> None:
        while not self._closed:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with self._ready:
                self._conns[side] = conn
                self._ready.notify_all()
            threading.Thread(target=self._relay, args=(side, conn), daemon=True).start()

    def _relay(self, side: str, conn: socket.socket) -> None:
        other = "B" if side == "A" else "A"
        buf = bytearray()
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            for byte in data:
                if byte != kiss.FEND:
                    buf.append(byte)
                    continue
                if buf:
                    raw = bytes(buf)
                    buf.clear()
                    with self._lock:
                        index = len(self.heard[side])
                        self.heard[side].append(raw)
                        target = self._conns[other]
                    copies = self.rule(side, index, raw)
                    if target is not None:
                        try:
                            target.sendall((b"\xc0" + raw + b"\xc0") * copies)
                        except OSError:
                            pass


class Station:
    """A KissTcpLink + ReliableChannel on one side of the air, collecting what it receives."""

    def __init__(self, air: Air, side: str, call: str, **channel_args: float) -> None:
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.failed: list[str] = []
        self.link = KissTcpLink("127.0.0.1", air.port(side), backoff_min=0.05, backoff_max=0.2)
        args = {"retry_initial": 0.2, "retry_factor": 2.0, "max_tries": 5, **channel_args}
        self.channel = ReliableChannel(self.link, call, on_message=lambda src, p: self.inbox.put((src, p)),
                                       on_failed=lambda msgid, dest: self.failed.append(msgid), **args)

    def start(self) -> None:
        self.link.start()
        self.channel.start()
        assert self.link.wait_connected(5)

    def stop(self) -> None:
        self.channel.stop()
        self.link.stop()

    def received(self, timeout: float = 5.0) -> tuple[str, bytes]:
        return self.inbox.get(timeout=timeout)


@pytest.fixture
def make_air() -> Iterator[Callable[..., tuple[Air, Station, Station]]]:
    made: list[tuple[Air, Station, Station]] = []

    def make(rule: Rule | None = None, **channel_args: float) -> tuple[Air, Station, Station]:
        air = Air(rule)
        a, b = Station(air, "A", POSKO, **channel_args), Station(air, "B", DAMKAR, **channel_args)
        a.start()
        b.start()
        air.wait_connected("A", "B")
        made.append((air, a, b))
        return air, a, b

    yield make
    for air, a, b in made:
        a.stop()
        b.stop()
        air.close()


def data_frames(air: Air, side: str) -> list[bytes]:
    """The S1 envelopes (not acks) a side put on the air, as info fields."""
    infos = [ax25.decode(kiss.Decoder().feed(b"\xc0" + raw + b"\xc0")[0].payload).info for raw in air.heard[side]]
    return [i for i in infos if i.startswith(b"S1|")]


def test_dispatch_goes_to_the_agency_and_its_reply_comes_back(make_air, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="firmware_bridge.radio.link")
    air, posko, damkar = make_air()
    text = render(DISPATCH, SECRET)
    msgid = posko.channel.send(DAMKAR, text.encode("ascii"))
    source, payload = damkar.received()
    assert source == POSKO and parse(payload.decode("ascii"), {"DAMKAR": SECRET}).code == "4821"
    assert posko.channel.wait_acked(msgid, 5)
    reply_id = damkar.channel.send(source, render_reply("4821", ReplyAction.ACKNOWLEDGED).encode())
    src, reply = posko.received()
    assert src == "DAMKAR-1" and parse_reply(reply.decode()).action is ReplyAction.ACKNOWLEDGED
    assert damkar.channel.wait_acked(reply_id, 5)
    assert posko.channel.transmissions == 2 and damkar.channel.transmissions == 2  # message + ack each
    assert len(air.heard["A"]) == 2 and len(air.heard["B"]) == 2
    logged = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("radio out ") for m in logged) == 4 and sum(m.startswith("radio in ") for m in logged) == 4
    assert any(m.startswith("radio out POSKO1>DAMKAR-1") and "112 #4821" in m for m in logged)


def test_first_two_transmissions_lost_still_arrives_exactly_once(make_air) -> None:
    air, posko, damkar = make_air(rule=lambda side, i, raw: 0 if side == "A" and i < 2 else 1)
    started = time.monotonic()
    msgid = posko.channel.send(DAMKAR, b"112 #4821 ...")
    assert damkar.received() == (POSKO, b"112 #4821 ...")
    assert posko.channel.wait_acked(msgid, 5)
    assert time.monotonic() - started >= 0.2 + 0.4 - 0.05  # back-off: 0.2 s, then 0.4 s
    time.sleep(1.0)  # past the next retry time: nothing more is sent, nothing more arrives
    assert posko.channel.transmissions == 3 and len(data_frames(air, "A")) == 3
    assert damkar.inbox.empty() and damkar.channel.duplicates == 0 and posko.channel.pending() == []


def test_duplicated_frame_is_applied_once_and_acked_twice(make_air) -> None:
    air, posko, damkar = make_air(rule=lambda side, i, raw: 2 if side == "A" and i == 0 else 1)
    msgid = posko.channel.send(DAMKAR, b"dispatch")
    assert damkar.received() == (POSKO, b"dispatch")
    assert posko.channel.wait_acked(msgid, 5)
    time.sleep(0.5)
    assert damkar.inbox.empty() and damkar.channel.duplicates == 1
    assert [unpack(ax25.decode(kiss.Decoder().feed(b"\xc0" + r + b"\xc0")[0].payload).info).kind
            for r in air.heard["B"]] == ["A", "A"]
    assert posko.channel.transmissions == 1


def test_lost_ack_means_a_resend_that_is_suppressed_and_acked_again(make_air) -> None:
    air, posko, damkar = make_air(rule=lambda side, i, raw: 0 if side == "B" and i == 0 else 1)
    msgid = posko.channel.send(DAMKAR, b"dispatch")
    assert damkar.received() == (POSKO, b"dispatch")
    assert posko.channel.wait_acked(msgid, 5)
    # The station acks each copy before it counts the copy as a duplicate: wait for the count.
    wait_until(lambda: damkar.channel.duplicates == 1, what="the second copy counted as a duplicate")
    assert posko.channel.transmissions == 2 and damkar.inbox.empty()


def test_corrupt_kiss_frame_is_counted_and_ignored(make_air) -> None:
    air, posko, damkar = make_air()
    air.inject("B", b"\xc0\x00" + ax25.encode_ui(DAMKAR, POSKO, b"S1|X|bad")[:10] + b"\xdb\x41\xc0")  # bad escape
    air.inject("B", kiss.encode(b"\x01\x02\x03 not ax25"))  # good KISS, bad AX.25
    air.inject("B", kiss.encode(ax25.encode_ui(DAMKAR, POSKO, b"hello, no envelope")))
    air.inject("B", kiss.encode(ax25.encode_ui("OTHER", POSKO, pack_message("ZZ", b"not for us"))))
    msgid = posko.channel.send(DAMKAR, b"after the noise")
    assert damkar.received() == (POSKO, b"after the noise")
    assert posko.channel.wait_acked(msgid, 5)
    assert damkar.link.kiss_errors == 1 and damkar.link.bad_frames == 1
    assert damkar.channel.ignored == 1 and damkar.inbox.empty()


def test_gives_up_after_max_tries(make_air) -> None:
    air, posko, damkar = make_air(rule=lambda side, i, raw: 0, retry_initial=0.05, max_tries=3)
    msgid = posko.channel.send(DAMKAR, b"into the void")
    assert not posko.channel.wait_acked(msgid, 5)
    assert posko.failed == [msgid] and posko.channel.transmissions == 3 and damkar.inbox.empty()


def test_link_reconnects_after_the_tnc_drops_it(make_air) -> None:
    air, posko, damkar = make_air()
    air.cut("B")
    deadline = time.monotonic() + 5
    while damkar.link.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert damkar.link.connects == 2
    air.wait_connected("B")
    msgid = posko.channel.send(DAMKAR, b"after reconnect")
    assert damkar.received() == (POSKO, b"after reconnect")
    assert posko.channel.wait_acked(msgid, 5)


def test_constructor_does_nothing_and_a_down_link_refuses_to_send() -> None:
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]
    threads = {t.ident for t in threading.enumerate()}
    link = KissTcpLink("127.0.0.1", port, my_call="N0CALL", backoff_min=0.05, backoff_max=0.1)
    assert not link.connected and link.connects == 0
    assert {t.ident for t in threading.enumerate()} <= threads  # no thread, no socket until start()
    with pytest.raises(LinkDown):
        link.send("DAMKAR", b"x")
    link.start()  # nothing listens there: it keeps retrying without raising
    time.sleep(0.3)
    assert not link.connected
    link.stop()
    link.stop()


# --- optional: two real Dire Wolf TNCs joined by a virtual air -------------------------

RATE = 44100
CHUNK = RATE // 50  # 20 ms of s16le mono


def _direwolf_unavailable() -> str | None:
    if shutil.which("direwolf") is None:
        return "direwolf is not installed (apt-get install direwolf)"
    conf = Path("/usr/share/alsa/alsa.conf")
    if not conf.exists():
        return "ALSA (libasound2) configuration not found: no ALSA file plugin"
    return None


class AudioRelay:
    """Copies one Dire Wolf's transmit audio to the other's stdin at real-time pace, silence in between."""

    def __init__(self, tx_fifo: Path, rx: subprocess.Popen) -> None:
        self.tx_fifo, self.rx, self.stop = tx_fifo, rx, threading.Event()
        self.buf = bytearray()
        self.lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._pace, daemon=True).start()

    def _read(self) -> None:
        with open(self.tx_fifo, "rb", buffering=0) as f:
            while not self.stop.is_set() and (data := f.read(65536)):
                with self.lock:
                    self.buf += data

    def _pace(self) -> None:
        nxt = time.monotonic()
        while not self.stop.is_set():
            with self.lock:
                chunk = bytes(self.buf[: CHUNK * 2])
                del self.buf[: CHUNK * 2]
            chunk += b"\x00" * (CHUNK * 2 - len(chunk))
            try:
                self.rx.stdin.write(chunk)
                self.rx.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            nxt += CHUNK / RATE
            time.sleep(max(0.0, nxt - time.monotonic()))


def _start_direwolf(home: Path, call: str, kiss_port: int, agw_port: int, tx_fifo: Path) -> subprocess.Popen:
    home.mkdir()
    (home / ".asoundrc").write_text(
        f'pcm.dwout {{ type file; slave.pcm "null"; format "raw"; file "|cat > {tx_fifo}" }}\n')
    (home / "direwolf.conf").write_text(
        f"ADEVICE - dwout\nARATE {RATE}\nACHANNELS 1\nCHANNEL 0\nMYCALL {call}\nMODEM 1200\n"
        f"TXDELAY 30\nTXTAIL 10\nKISSPORT {kiss_port}\nAGWPORT {agw_port}\n")
    env = {**os.environ, "HOME": str(home)}
    with open(home / "direwolf.log", "wb") as log_file:  # the child keeps its own descriptor
        return subprocess.Popen(["direwolf", "-t", "0", "-c", str(home / "direwolf.conf"), "-"], cwd=home,
                                env=env, stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT)


def _free_ports(n: int) -> list[int]:
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(n)]
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_dispatch_through_two_dire_wolf_tncs(tmp_path: Path) -> None:
    if reason := _direwolf_unavailable():
        pytest.skip(reason)
    ka, aa, kb, ab = _free_ports(4)
    fifo_a, fifo_b = tmp_path / "txA", tmp_path / "txB"
    os.mkfifo(fifo_a)
    os.mkfifo(fifo_b)
    dw_a = _start_direwolf(tmp_path / "a", "N0CALA", ka, aa, fifo_a)
    dw_b = _start_direwolf(tmp_path / "b", "N0CALB", kb, ab, fifo_b)
    relays = [AudioRelay(fifo_a, dw_b), AudioRelay(fifo_b, dw_a)]
    for r in relays:
        r.start()
    inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
    replies: queue.Queue[tuple[str, bytes]] = queue.Queue()
    link_a, link_b = KissTcpLink("127.0.0.1", ka), KissTcpLink("127.0.0.1", kb)
    posko = ReliableChannel(link_a, POSKO, on_message=lambda s, p: replies.put((s, p)), retry_initial=8.0)
    damkar = ReliableChannel(link_b, DAMKAR, on_message=lambda s, p: inbox.put((s, p)), retry_initial=8.0)
    try:
        for link, dw in ((link_a, dw_a), (link_b, dw_b)):
            link.start()
            if not link.wait_connected(15):
                log_tail = (Path(dw.args[4]).parent / "direwolf.log").read_text(errors="replace")[-600:]
                pytest.skip(f"direwolf did not open its KISS port (exit {dw.poll()}); its log ends: {log_tail}")
        posko.start()
        damkar.start()
        text = render(DISPATCH, SECRET)
        started = time.monotonic()
        msgid = posko.send(DAMKAR, text.encode("ascii"))
        source, payload = inbox.get(timeout=40)
        delivered = time.monotonic() - started
        assert source == POSKO and parse(payload.decode("ascii"), {"D": SECRET}).code == "4821"
        assert posko.wait_acked(msgid, 40)
        acked = time.monotonic() - started
        damkar.send(POSKO, b"TIBA 4821")
        assert replies.get(timeout=40) == ("DAMKAR-1", b"TIBA 4821")
        print(f"dispatch of {len(text)} chars delivered in {delivered:.2f} s, acknowledged in {acked:.2f} s; "
              f"transmissions {posko.transmissions}+{damkar.transmissions}")
        assert posko.transmissions == 2  # the dispatch once (no retry needed) and the ack of the reply
    finally:
        posko.stop()
        damkar.stop()
        link_a.stop()
        link_b.stop()
        for r in relays:
            r.stop.set()
        for dw in (dw_a, dw_b):
            dw.terminate()
            try:
                dw.wait(5)
            except subprocess.TimeoutExpired:
                dw.kill()
