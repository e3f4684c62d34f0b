"""The modem emulator on a real pty, spoken to by a plain pyserial client, by gammu (an
independent AT client) and through `siaga112 sim modem`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from firmware_bridge.modem import pdu
from tests.bridge.conftest import wait_until

FINALS = (b"\r\nOK\r\n", b"ERROR", b"\r\n> ", b"NO CARRIER\r\n")


class Client:
    """A dumb terminal: writes a command, returns everything up to the final result code."""

    def __init__(self, port: str) -> None:
        self.ser = serial.serial_for_url(port, baudrate=115200, timeout=0.05)

    def __call__(self, command: str | bytes, timeout: float = 2.0) -> str:
        self.ser.write(command if isinstance(command, bytes) else command.encode() + b"\r")
        return self.read_until(FINALS, timeout)

    def read_until(self, endings: tuple[bytes, ...], timeout: float = 2.0, count: int = 1) -> str:
        got, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            got += self.ser.read(256)
            if any(got.count(end) >= count for end in endings) and (b"ERROR" not in got or got.endswith(b"\r\n")):
                return got.decode("latin-1")
        raise AssertionError(f"no final result code in {got!r}")

    def read_pdu_urc(self, name: str) -> tuple[str, str]:
        """The header and PDU line of a two-line unsolicited code (+CMT, +CDS)."""
        pattern = re.compile(r"\r\n" + re.escape(name) + r": ([^\r]*)\r\n(\w+)\r\n")
        got, deadline = "", time.monotonic() + 2
        while time.monotonic() < deadline and not pattern.search(got):
            got += self.ser.read(256).decode("latin-1")
        match = pattern.search(got)
        assert match, f"no {name} in {got!r}"
        return match.group(1), match.group(2)

    def close(self) -> None:
        self.ser.close()


@pytest.fixture
def client(modem_emulator):
    c = Client(modem_emulator.port)
    yield c
    c.close()


def test_echo_follows_ate_and_identification(client) -> None:
    assert client("AT") == "AT\r\r\nOK\r\n"  # factory default: echo on, like a real modem
    assert client("ATE0") == "ATE0\r\r\nOK\r\n"
    assert client("AT") == "\r\nOK\r\n"
    assert client("ATI") == "\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n"
    assert client("AT+CGMI") == "\r\nQuectel\r\n\r\nOK\r\n"
    assert client("AT+CGSN") == "\r\n867962040000004\r\n\r\nOK\r\n"
    assert client("AT+CIMI") == "\r\n510101234567890\r\n\r\nOK\r\n"
    assert client("ATE1") == "\r\nOK\r\n"
    assert client("AT+CSQ") == "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def test_errors_follow_cmee(client, modem_emulator) -> None:
    client("ATE0")
    assert client("AT+NOPE") == "\r\nERROR\r\n"
    assert client("AT+CMEE=1") == "\r\nOK\r\n"
    assert client("AT+NOPE") == "\r\n+CME ERROR: 4\r\n"
    assert client("AT+SYNCML=?") == "\r\n+CME ERROR: 4\r\n"  # gammu probes this: we have no SyncML
    assert client("AT+CMGF=1") == "\r\n+CMS ERROR: 303\r\n"  # PDU mode only
    modem_emulator.set_sim("NOT INSERTED")
    assert client("AT+CPIN?") == "\r\n+CME ERROR: 10\r\n"
    client("AT+CMEE=2")
    assert client("AT+CIMI") == "\r\n+CME ERROR: SIM not inserted\r\n"
    modem_emulator.set_sim("SIM PIN")
    assert client("AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert client('AT+CPIN="1234"') == "\r\nOK\r\n"
    assert client("AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_registration_signal_and_charset(client, modem_emulator) -> None:
    client("ATE0")
    assert client("AT+CREG?") == "\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert client('AT+COPS?') == '\r\n+COPS: 0,0,"TELKOMSEL",7\r\n\r\nOK\r\n'
    client("AT+CREG=1")
    modem_emulator.set_registration(2)
    assert client.read_until((b"+CREG: 2\r\n",))
    assert client("AT+COPS?") == "\r\n+COPS: 0\r\n\r\nOK\r\n"
    modem_emulator.set_signal(7)
    assert client("AT+CSQ") == "\r\n+CSQ: 7,99\r\n\r\nOK\r\n"
    assert client('AT+CSCS="HEX"') == "\r\nOK\r\n"  # what gammu does; strings then come hex-encoded
    assert client("AT+CSCA?") == '\r\n+CSCA: "2B3632383131303030303030",145\r\n\r\nOK\r\n'


def test_cmgs_checks_the_length_records_and_reports(client, modem_emulator) -> None:
    client("ATE0")
    client("AT+CMEE=1")
    client("AT+CNMI=2,1,0,1,0")
    part = pdu.encode_submit("081234567890", "Tes kirim", status_report=True)[0]
    assert client(f"AT+CMGS={part.tpdu_length + 1}") == "\r\n> "
    assert client(part.hex.encode() + b"\x1a") == "\r\n+CMS ERROR: 304\r\n"
    assert client(f"AT+CMGS={part.tpdu_length}") == "\r\n> "
    assert client(b"0011\x1b") == "\r\nOK\r\n"  # Esc: nothing sent
    assert modem_emulator.sent == []
    assert client(f"AT+CMGS={part.tpdu_length}") == "\r\n> "
    assert client(part.hex.encode() + b"\x1a") == "\r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert [(s.recipient, s.text, s.mr) for s in modem_emulator.sent] == [("081234567890", "Tes kirim", 1)]
    header, hex_pdu = client.read_pdu_urc("+CDS")
    got = pdu.decode_status_report(hex_pdu)
    assert (got.message_ref, got.recipient, got.delivered) == (1, "081234567890", True)
    assert int(header) == len(bytes.fromhex(hex_pdu)) - 1 - bytes.fromhex(hex_pdu)[0]


def test_storage_cmti_cmgr_cmgl_cmgd(client, modem_emulator) -> None:
    client("ATE0")
    assert modem_emulator.receive_sms("+6281100001111", "OK 4821") == [1]
    assert '+CMTI: "SM",1' in client.read_until((b'+CMTI: "SM",1\r\n',))
    long_text = "Bantuan segera ke Desa Air Putih, jalan utama terputus. " * 4
    assert modem_emulator.receive_sms("081277770000", long_text) == [2, 3]
    assert client.read_until((b'+CMTI: "SM",3\r\n',)).count("+CMTI") == 2
    assert client("AT+CPMS?") == '\r\n+CPMS: "SM",3,30,"SM",3,30,"SM",3,30\r\n\r\nOK\r\n'
    lines = client("AT+CMGR=1").split("\r\n")
    assert lines[1].startswith("+CMGR: 0,,")
    assert pdu.decode_deliver(lines[2]).text == "OK 4821"
    assert client("AT+CMGR=1").split("\r\n")[1].startswith("+CMGR: 1,,")  # now read
    listed = [line for line in client("AT+CMGL=4").split("\r\n") if line and not line.startswith(("+", "OK"))]
    parts = [pdu.decode_deliver(h) for h in listed[1:]]
    assert "".join(p.text for p in sorted(parts, key=lambda p: p.concat[2])) == long_text
    assert client("AT+CMGD=1") == "\r\nOK\r\n"
    assert sorted(modem_emulator.storage) == [2, 3]
    assert client("AT+CMGD=1,4") == "\r\nOK\r\n"
    assert modem_emulator.storage == {}
    modem_emulator.receive_sms("0812", "langsung", store=False)
    header, hex_pdu = client.read_pdu_urc("+CMT")
    assert header == f",{len(hex_pdu) // 2 - 8}" and pdu.decode_deliver(hex_pdu).text == "langsung"


def test_ring_with_clip_and_answer(client, modem_emulator) -> None:
    client("ATE0")
    modem_emulator.ring("081234567890")
    assert client.read_until((b"RING\r\n",)) == "\r\nRING\r\n"  # +CLIP off by default
    client("AT+CLIP=1")
    modem_emulator.ring("+6281234567890", times=2, interval=0.1)
    got = client.read_until((b',0\r\n',), count=2)
    assert got == '\r\nRING\r\n\r\n+CLIP: "+6281234567890",145,"",0,"",0\r\n' * 2
    assert client("ATA") == "\r\nOK\r\n"
    assert client("AT+CHUP") == "\r\nOK\r\n"
    assert client("ATA") == "\r\nNO CARRIER\r\n"


def test_cfun_reset_reboots_with_factory_settings(client, modem_emulator) -> None:
    client("ATE0")
    client("AT+CMEE=1")
    assert client("AT+CFUN=1,1") == "\r\nOK\r\n"
    assert "RDY" in client.read_until((b"+QIND: SMS DONE\r\n",))
    assert client("AT+NOPE") == "AT+NOPE\r\r\nERROR\r\n"  # echo back on, CMEE back to 0
    modem_emulator.reset()
    client.ser.write(b"AT\r")  # a booting modem hears nothing
    assert "OK" not in client.read_until((b"+QIND: SMS DONE\r\n",))


def test_garble_inject_and_interleave(client, modem_emulator) -> None:
    client("ATE0")
    modem_emulator.garble(1)
    client.ser.write(b"AT+CSQ\r")
    time.sleep(0.3)
    garbled = client.ser.read(200)
    assert b"OK" not in garbled and any(b >= 0x80 for b in garbled)
    assert client("AT+CSQ").endswith("+CSQ: 20,99\r\n\r\nOK\r\n")
    modem_emulator.inject(b"\r\n+QIND: \xff junk\r\n")
    assert client.read_until((b"junk\r\n",))
    modem_emulator.interleave(b"\r\nRING\r\n")
    assert client("AT+CSQ") == "\r\n+CSQ: 20,99\r\nRING\r\n\r\nOK\r\n"


def test_unplug_and_replug_keep_the_link(modem_emulator) -> None:
    link = Path(modem_emulator.port)
    first = os.readlink(link)
    c = Client(str(link))
    modem_emulator.unplug()
    assert not link.exists()
    with pytest.raises(serial.SerialException):
        for _ in range(20):
            c.ser.read(10)
    c.close()
    modem_emulator.replug()
    assert link.is_symlink() and os.readlink(link) == modem_emulator.pty_name
    c = Client(str(link))
    time.sleep(0.3)  # the modem boots first
    assert c("AT").endswith("\r\nOK\r\n")
    c.close()
    assert first.startswith("/dev/pts/")


def test_sent_texts_joins_parts(client, modem_emulator) -> None:
    client("ATE0")
    text = "Kebakaran di Jalan Sudirman, mohon kirim dua unit damkar secepatnya. " * 5
    for part in pdu.encode_submit("0812", text, status_report=False, reference=9):
        assert client(f"AT+CMGS={part.tpdu_length}") == "\r\n> "
        assert "+CMGS:" in client(part.hex.encode() + b"\x1a")
    assert len(modem_emulator.sent) == 3
    assert modem_emulator.sent_texts() == [text]


GAMMU = shutil.which("gammu")


@pytest.mark.skipif(GAMMU is None, reason="gammu is not installed (Debian package 'gammu'; make deps installs it)")
def test_gammu_identify_and_sendsms(modem_emulator, tmp_path) -> None:
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {modem_emulator.port}\nconnection = at\n")
    env = dict(os.environ, HOME=str(tmp_path))
    identify = subprocess.run([GAMMU, "-c", str(rc), "identify"], capture_output=True, text=True, timeout=60, env=env)
    assert identify.returncode == 0, identify.stdout + identify.stderr
    assert "Quectel" in identify.stdout and "867962040000004" in identify.stdout
    send = subprocess.run([GAMMU, "-c", str(rc), "sendsms", "TEXT", "+6281200000000", "-text", "Tes"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert send.returncode == 0, send.stdout + send.stderr
    assert [(s.recipient, s.text) for s in modem_emulator.sent] == [("+6281200000000", "Tes")]
    said = modem_emulator.transcript()
    for command in ("ATE1", "AT+CSCS=?", "AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CSCA?", "AT+CMGF=0", "AT+CMGS="):
        assert command in said


def test_sim_modem_command_drives_the_emulator(tmp_path) -> None:
    link = tmp_path / "siaga-modem"
    siaga = Path(sys.executable).with_name("siaga112")
    proc = subprocess.Popen([str(siaga), "sim", "modem", "--link", str(link)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("modem emulator on /dev/pts/")
        wait_until(link.exists, what="the link")
        c = Client(str(link))
        c("ATE0")
        c("AT+CLIP=1")
        proc.stdin.write("ring 081299998888\n")
        proc.stdin.flush()
        assert '+CLIP: "081299998888",129' in c.read_until((b",0\r\n",))
        c.close()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
