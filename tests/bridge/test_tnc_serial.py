"""A KISS TNC on a serial port: real pseudo-terminals stand in for two TNCs' serial lines, joined
by a thread that carries bytes between them as the radios would carry the frames."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest

from firmware_bridge.radio import ax25, kiss
from firmware_bridge.radio.link import ReliableChannel
from firmware_bridge.radio.tnc import BadTncAddress, KissSerialLink, KissTcpLink, open_tnc
from tests.bridge.conftest import wait_until


class SerialAir:
    """Two pty pairs; the bridge side opens each pty's stable symlink, the 'air' copies bytes
    between the master ends. `unplug(side)` closes one pair (the USB cable pulled) and
    `replug(side)` makes a new pty behind the same symlink."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.masters: dict[str, int | None] = {"A": None, "B": None}
        self._stop = threading.Event()
        for side in self.masters:
            self.replug(side)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def path(self, side: str) -> str:
        return str(self.folder / f"tnc-{side}")

    def replug(self, side: str) -> None:
        master, slave = os.openpty()
        link = Path(self.path(side))
        tmp = link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(link)
        os.close(slave)
        # Non-blocking: select() also wakes for a hang-up (no slave open yet), and a blocking
        # read after the slave has been opened meanwhile would stall the whole air.
        os.set_blocking(master, False)
        self.masters[side] = master

    def unplug(self, side: str) -> None:
        master, self.masters[side] = self.masters[side], None
        Path(self.path(side)).unlink()
        os.close(master)

    def _run(self) -> None:
        while not self._stop.is_set():
            fds = {fd: side for side, fd in self.masters.items() if fd is not None}
            try:
                ready, _, _ = select.select(list(fds), [], [], 0.05)
            except (OSError, ValueError):
                continue
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO while no slave is open, EAGAIN after a spurious wake-up
                    continue
                other = self.masters["B" if fds[fd] == "A" else "A"]
                if other is not None:
                    try:
                        os.write(other, data)
                    except OSError:
                        pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for side in list(self.masters):
            if self.masters[side] is not None:
                self.unplug(side)


def test_the_address_picks_the_transport():
    serial = open_tnc("/dev/siaga-tnc@1200")
    assert isinstance(serial, KissSerialLink) and (serial.device, serial.baud) == ("/dev/siaga-tnc", 1200)
    assert open_tnc("/dev/ttyUSB0").baud == 9600
    tcp = open_tnc("127.0.0.1:8001")
    assert isinstance(tcp, KissTcpLink) and (tcp.host, tcp.port) == ("127.0.0.1", 8001)
    for bad in ("", "8001", "localhost:99999", "ttyUSB0@9600", "/dev/x@fast"):
        with pytest.raises(BadTncAddress):
            open_tnc(bad)


def test_messages_cross_serial_tncs_with_acks_and_survive_an_unplugged_cable(tmp_path):
    air = SerialAir(tmp_path)
    heard: list[tuple[str, bytes]] = []
    links = {side: KissSerialLink(air.path(side), 9600, backoff_min=0.05, backoff_max=0.2) for side in "AB"}
    posko = ReliableChannel(links["A"], "POSKO1", retry_initial=0.3, max_tries=8)
    station = ReliableChannel(links["B"], "DAMKR1", on_message=lambda src, p: heard.append((src, p)),
                              retry_initial=0.3, max_tries=8)
    acked: list[str] = []
    posko.on_acked = lambda msgid, src: acked.append(msgid)
    for part in (links["A"], links["B"], posko, station):
        part.start()
    try:
        assert links["A"].wait_connected(5) and links["B"].wait_connected(5)
        posko.send("DAMKR1", b"112 #4821 P1 3:KEBAKARAN", "MSG1")
        wait_until(lambda: acked == ["MSG1"], timeout=20, what="ack over serial")
        assert heard == [("POSKO1", b"112 #4821 P1 3:KEBAKARAN")]

        # Noise on the line is dropped, the link stays up.
        os.write(air.masters["A"], b"\x00\xffgarbage" + kiss.encode(b"\x01\x02") + b"\xc0\xdb\x01\xc0")
        posko.send("DAMKR1", b"OK", "MSG2")
        wait_until(lambda: "MSG2" in acked, timeout=20, what="ack after noise")

        # The station's USB cable is pulled: the message waits, and goes when it is back.
        air.unplug("B")
        wait_until(lambda: not links["B"].connected, timeout=10, what="station notices the unplug")
        posko.send("DAMKR1", b"TIBA 4821", "MSG3")
        air.replug("B")
        wait_until(lambda: "MSG3" in acked, timeout=30, what="delivered after replug")
        assert [p for _, p in heard] == [b"112 #4821 P1 3:KEBAKARAN", b"OK", b"TIBA 4821"]
        assert links["B"].connects >= 2 and links["A"].bad_frames >= 0
    finally:
        for part in (posko, station, links["A"], links["B"]):
            part.stop()
        air.close()


def test_a_frame_sent_by_the_link_is_a_kiss_ax25_ui_frame_on_the_wire(tmp_path):
    master, slave = os.openpty()
    link = KissSerialLink(os.ttyname(slave), 9600, my_call="POSKO1", backoff_min=0.05)
    link.start()
    try:
        assert link.wait_connected(5)
        link.send("DAMKR1", b"hello")
        decoder, frames = kiss.Decoder(), []
        wait_until(lambda: frames.extend(decoder.feed(os.read(master, 4096))) or frames, what="frame out")
        ui = ax25.decode(frames[0].payload)
        assert (ui.source, ui.dest, ui.info) == ("POSKO1", "DAMKR1", b"hello")
    finally:
        link.stop()
        os.close(master)
        os.close(slave)
