"""The pyserial modem layer against the emulator on a real pty: initialisation, health, caller
ID, PDU SMS both ways with reports, and what real modems do to us (URCs mid-command, errors,
resets, unplugging, garbage)."""

from __future__ import annotations

import logging
import queue
from datetime import UTC, datetime

import pytest

from firmware_bridge.modem import pdu
from firmware_bridge.modem.device import ModemError, ModemGone, ModemTimeout
from firmware_bridge.modem.pdu import Encoding
from tests.bridge.conftest import TIMEOUT, wait_until

INDONESIAN = (
    "Kebakaran rumah warga di Desa Sungai Alam, Kecamatan Bengkalis. Api sudah merambat ke dua rumah "
    "tetangga, angin kencang dari arah laut. Warga sudah mencoba memadamkan dengan ember. Mohon kirim "
    "dua unit mobil pemadam dan ambulans, ada satu korban luka bakar ringan. Akses jalan bisa dilalui "
    "roda empat lewat Jalan Pramuka."
)


def get(q: queue.Queue, timeout: float = TIMEOUT):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        pytest.fail("the callback was not called")


def test_initialises_the_modem(modem, modem_emulator) -> None:
    s = modem_emulator.settings
    assert (s.echo, s.cmee, s.cnmi, s.clip, s.creg) == (False, 1, [2, 1, 0, 1, 0], 1, 1)
    said = modem_emulator.transcript()
    assert said.index(">> AT\\r") < said.index(">> ATE0\\r") < said.index(">> AT+CREG=1\\r")
    assert modem.inits == 1 and modem.state.connected and modem.state.sim_ready


def test_health_reports_registration_and_signal(modem, modem_emulator) -> None:
    state = modem.health()
    assert (state.registered, state.reg_stat, state.rssi, state.dbm, state.operator) == (True, 1, 20, -73, "TELKOMSEL")
    assert state.last_ok_at is not None
    modem_emulator.set_signal(5)
    assert (modem.health().rssi, modem.state.dbm) == (5, -103)
    modem_emulator.set_registration(2)  # +CREG: 2 arrives unasked
    wait_until(lambda: not modem.state.registered, what="+CREG to be seen")
    assert modem.state.reg_stat == 2 and modem.seen.states[-1].registered is False
    modem_emulator.set_signal(99)
    assert modem.health().rssi is None and modem.state.operator is None


def test_incoming_call_gives_the_number_as_given(modem, modem_emulator) -> None:
    modem_emulator.ring("081234567890", times=3, interval=0.1)
    assert get(modem.seen.calls) == "081234567890"  # national stays national
    modem_emulator.ring("+6281299990000")
    assert get(modem.seen.calls) == "+6281299990000"
    assert modem.seen.calls.empty()  # three rings of one call: one intake form


def test_send_multipart_gsm7(modem, modem_emulator) -> None:
    assert len(INDONESIAN) > 300
    refs = modem.send_sms("081234567890", INDONESIAN, status_report=False)
    assert len(refs) == 3 and len(set(refs)) == 3
    assert modem_emulator.sent_texts() == [INDONESIAN]
    assert {s.encoding for s in modem_emulator.sent} == {Encoding.GSM7}
    assert [s.mr for s in modem_emulator.sent] == refs


def test_send_multipart_ucs2(modem, modem_emulator) -> None:
    text = "Café Pantai: korban 2 orang 🚑, mohon segera. " * 3
    refs = modem.send_sms("+6281234567890", text, status_report=False)
    assert len(refs) == 3
    assert modem_emulator.sent_texts() == [text]
    assert {s.encoding for s in modem_emulator.sent} == {Encoding.UCS2}
    assert {s.recipient for s in modem_emulator.sent} == {"+6281234567890"}


def test_status_report_arrives(modem, modem_emulator) -> None:
    [ref] = modem.send_sms("081234567890", "DISPATCH 4821", status_report=True)
    report = get(modem.seen.reports)
    assert (report.message_ref, report.recipient, report.delivered, report.final) == (ref, "081234567890", True, True)


def test_stored_sms_is_read_then_deleted(modem, modem_emulator) -> None:
    modem_emulator.receive_sms("+6281100001111", "OK 4821")
    got = get(modem.seen.sms)
    assert (got.sender, got.text) == ("+6281100001111", "OK 4821")
    wait_until(lambda: modem_emulator.storage == {}, what="the SMS to be deleted")
    modem_emulator.receive_sms("081277770000", INDONESIAN)  # three parts, three +CMTI
    assert get(modem.seen.sms).text == INDONESIAN
    wait_until(lambda: modem_emulator.storage == {}, what="all parts to be deleted")
    assert modem.seen.sms.empty()


def test_direct_sms_cmt(modem, modem_emulator) -> None:
    modem_emulator.receive_sms("081277770000", "TIBA 4821 🚒", store=False)
    got = get(modem.seen.sms)
    assert (got.sender, got.text, got.encoding) == ("081277770000", "TIBA 4821 🚒", Encoding.UCS2)


def test_failing_callback_keeps_the_sms_and_retries(modem, modem_emulator) -> None:
    modem.seen.fail_sms = 2
    modem_emulator.receive_sms("+6281100001111", "SELESAI 4821 2 korban ke RSUD")
    wait_until(lambda: modem.seen.sms_attempts >= 1, what="a first attempt")
    assert list(modem_emulator.storage) == [1]  # not deleted after the failure
    got = get(modem.seen.sms)  # offered again by the periodic storage scan
    assert got.text == "SELESAI 4821 2 korban ke RSUD" and modem.seen.sms_attempts == 3
    wait_until(lambda: modem_emulator.storage == {}, what="the SMS to be deleted at last")


def test_urcs_in_the_middle_of_a_command(make_modem, modem_emulator) -> None:
    modem = make_modem(poll_interval=60)  # no storage scan: the +CMTI alone must bring the SMS
    modem_emulator.interleave(b'\r\nRING\r\n\r\n+CLIP: "081311112222",129,"",0,"",0\r\n')
    assert modem.command("AT+CSQ") == ["+CSQ: 20,99"]
    assert get(modem.seen.calls) == "081311112222"
    modem_emulator.set_registration(1)
    modem_emulator.storage[7] = [0, _deliver_hex("081244445555", "OK 77")]
    modem_emulator.interleave(b'\r\n+CMTI: "SM",7\r\n')
    assert modem.command("AT+CPMS?")[0].startswith('+CPMS: "SM",1,30')
    assert get(modem.seen.sms).text == "OK 77"


def test_cme_error_is_raised_with_its_code(modem, modem_emulator) -> None:
    modem_emulator.set_sim("NOT INSERTED")
    with pytest.raises(ModemError) as err:
        modem.command("AT+CIMI")
    assert err.value.final.error == 10
    assert modem.health().sim_ready is False
    with pytest.raises(ModemError) as err:
        modem.command("AT+BOGUS")
    assert err.value.final.error == 4
    modem_emulator.set_sim("READY")
    assert modem.command("AT+CIMI") == ["510101234567890"]


def test_modem_reset_mid_session_reinitialises(modem, modem_emulator) -> None:
    modem.send_sms("0812", "sebelum", status_report=False)
    modem_emulator.reset()  # echo back on, CNMI/CLIP lost, "RDY" when booted
    wait_until(lambda: modem.inits == 2, what="the re-initialisation")
    s = modem_emulator.settings
    assert (s.echo, s.cnmi, s.clip) == (False, [2, 1, 0, 1, 0], 1)
    modem.send_sms("0812", "sesudah", status_report=False)
    modem_emulator.ring("081355556666")
    assert get(modem.seen.calls) == "081355556666"
    assert modem_emulator.sent_texts() == ["sebelum", "sesudah"]


def test_reset_by_command_and_echo_on(modem, modem_emulator) -> None:
    assert modem.command("AT+CFUN=1,1") == []
    wait_until(lambda: modem.inits == 2, what="the re-initialisation")
    assert modem.command("ATE1") == []  # echo on: answers still parse
    assert modem.command("AT+CSQ") == ["+CSQ: 20,99"]
    assert modem.send_sms("0812", "gema", status_report=False)
    assert modem_emulator.sent_texts() == ["gema"]


def test_unplug_and_replug(modem, modem_emulator) -> None:
    modem_emulator.unplug()
    wait_until(lambda: not modem.state.connected, what="the loss to be noticed")
    assert modem.state.registered is False and modem.seen.states[-1].registered is False
    with pytest.raises(ModemGone):
        modem.command("AT")
    assert modem.health().connected is False
    modem_emulator.replug()
    wait_until(lambda: modem.inits == 2 and modem.state.registered, what="reconnection")
    assert modem.send_sms("081234567890", "kembali", status_report=False)
    assert modem_emulator.sent_texts() == ["kembali"]


def test_garbled_responses_are_logged_and_skipped(modem, modem_emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="siaga112.bridge.modem")
    modem_emulator.garble(1)
    with pytest.raises(ModemTimeout):
        modem.command("AT+CSQ")
    assert modem.command("AT+CSQ") == ["+CSQ: 20,99"]
    modem_emulator.inject(b"\r\n\xff\xfe\x00\x13noise\r\n+CM\r\n")
    assert modem.command("AT") == []
    modem_emulator.interleave(b'\r\n+QIND: "FOTA","START"\r\n')  # an unknown URC is no answer of ours
    assert modem.command("AT+CSQ") == ["+CSQ: 20,99"]
    assert any("garbled" in r.message for r in caplog.records)
    modem_emulator.receive_sms("081234567890", "OK 4821")  # and the modem still works end to end
    assert get(modem.seen.sms).text == "OK 4821"


def _deliver_hex(sender: str, text: str) -> str:
    return pdu.encode_deliver(sender, text, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
