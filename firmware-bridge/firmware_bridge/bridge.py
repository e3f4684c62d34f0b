"""The bridge daemon: owns the serial hardware and ties it to the node's incident app.

First slice (issue 4): the GSM modem's caller ID (+CLIP) becomes a ringing call on the
call-takers' board; the call-taker who presses "Jawab" gets the intake form with the
number and its history filled in. An SMS from an agency's registered number that quotes
one of its open dispatch codes ("OK 4821", "SELESAI 4821 2 korban ke RSUD") updates that
dispatch on the timeline with channel "sms"; any other SMS becomes an information call
for the call-taker to review, never lost. At an agency station, a dispatch text that comes
by SMS or radio goes to the station's inbox (dispatch_receipt.py) and the dispatcher's answers
go back the same way. Modem and radio TNC state are written for the status header.
Dispatches go out by SMS (sms_dispatch.py) and, with a radio, over a KISS TNC
(radio_dispatch.py), including the fallback from an unanswered network dispatch.

`Bridge(data_dir, modem_port, radio=(tnc_address, callsign))` does nothing until `start()`
(the TNC address is HOST:PORT for KISS over TCP or /dev/PATH[@BAUD] for a serial TNC);
`stop()` releases the port and the TNC. Either part is optional: without `modem_port` the GSM
part is skipped, without `radio` the radio part (an agency station may run radio only).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path

from edge.db import open_database
from edge.enums import CallSource
from edge.services import write_tx
from edge.services.calls import incoming_call
from firmware_bridge import radio_dispatch, sms_dispatch
from firmware_bridge.dispatch_receipt import looks_like_dispatch, receive_text, station_agency
from firmware_bridge.modem import pdu
from firmware_bridge.modem.device import Modem, ModemException, ModemState
from firmware_bridge.radio.link import ReliableChannel
from firmware_bridge.radio.tnc import KissLink, open_tnc
from firmware_bridge.sms_routing import route_sms
from sync.status import write_status

log = logging.getLogger("siaga112.bridge")


class Bridge:
    def __init__(self, data_dir: str | Path, modem_port: str | None = None, *,
                 radio: tuple[str, str] | tuple[str, int, str] | None = None, radio_options: dict | None = None,
                 **modem_settings: object) -> None:
        """`radio` is (TNC address, this station's callsign), or (host, KISS TCP port, callsign);
        `radio_options` go to the ReliableChannel (retry_initial, max_tries, ...)."""
        if radio is not None and len(radio) == 3:
            radio = (f"{radio[0]}:{radio[1]}", radio[2])
        if modem_port is None and radio is None:
            raise ValueError("a bridge needs a modem port, a radio, or both")
        self.data_dir = Path(data_dir)
        self.modem_port = modem_port
        self.modem_settings = modem_settings
        self.modem: Modem | None = None
        self.radio = radio
        self.callsign = radio[1] if radio else None
        self.radio_options = dict(radio_options or {})
        self.radio_link: KissLink | None = None
        self.radio_channel: ReliableChannel | None = None
        self.radio_dispatcher: radio_dispatch.RadioDispatcher | None = None
        self._radio_state: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.poll_seconds = 1.0

    def start(self) -> None:
        self.db = open_database(self.data_dir)
        if self.modem_port is not None:
            self.modem = Modem(self.modem_port, **self.modem_settings)
            self.modem.on_call = self._on_call
            self.modem.on_sms = self._on_sms
            self.modem.on_status_report = self._on_status_report
            self.modem.on_state = self._on_state
            self.modem.start()
        if self.radio is not None:
            address, call = self.radio
            self.radio_link = open_tnc(address, my_call=call)
            self.radio_channel = ReliableChannel(self.radio_link, call, on_message=self._on_radio_message,
                                                 on_acked=self._on_radio_acked, on_failed=self._on_radio_failed,
                                                 **self.radio_options)
            self.radio_dispatcher = radio_dispatch.RadioDispatcher(self.radio_channel, self.data_dir)
            self.radio_link.start()
            self.radio_channel.start()
        self._thread = threading.Thread(target=self._send_loop, name="bridge-send", daemon=True)
        self._thread.start()
        log.info("bridge started:%s%s", f" modem on {self.modem_port}" if self.modem_port else "",
                 f" radio {self.callsign} via TNC {self.radio[0]}" if self.radio else "")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.modem is not None:
            self.modem.stop()
        if self.radio_channel is not None:
            self.radio_channel.stop()
        if self.radio_link is not None:
            self.radio_link.stop()
        self.db.close()

    def healthy(self) -> bool:
        """For the systemd watchdog: the send loop is alive (the modem itself may be unplugged:
        that is reported in the header, not fixed by a restart)."""
        return self._thread is not None and self._thread.is_alive()

    def _send_loop(self) -> None:
        """Dispatches whose channel is SMS (radio) go out as soon as the modem (TNC) can send."""
        while not self._stop.wait(self.poll_seconds):
            if self.modem is not None:
                try:
                    with self.db.connection_context():
                        sms_dispatch.send_pending(self.modem, self.data_dir, radio_here=self.radio is not None)
                        sms_dispatch.send_replies(self.modem)
                except ModemException as exc:
                    log.warning("SMS sending paused: %s", exc)
                except Exception:  # noqa: BLE001 - keep the bridge alive; the next round retries
                    log.exception("SMS send loop error")
            if self.radio_dispatcher is not None:
                try:
                    with self.db.connection_context():
                        self.radio_dispatcher.send_pending()
                        self._write_radio_state()
                except Exception:  # noqa: BLE001 - keep the bridge alive; the next round retries
                    log.exception("radio send loop error")

    def _write_radio_state(self) -> None:
        """The TNC link's state for the status header, written when it changes."""
        state = {"connected": self.radio_link.connected, "callsign": self.callsign, "tnc": self.radio[0],
                 "waiting": len(self.radio_channel.pending())}
        if state != self._radio_state:
            self._radio_state = state
            with write_tx():
                write_status("radio", json.dumps(state))
            log.info("radio TNC %s %s (%d message(s) waiting for an ack)", state["tnc"],
                     "connected" if state["connected"] else "disconnected", state["waiting"])

    def _on_radio_message(self, source: str, payload: bytes) -> None:
        """A message heard for our callsign: a dispatch (agency side) or a reply (posko side)."""
        with self.db.connection_context():
            self.radio_dispatcher.on_message(source, payload)

    def _on_radio_acked(self, msgid: str, source: str) -> None:
        with self.db.connection_context():
            self.radio_dispatcher.on_acked(msgid, source)

    def _on_radio_failed(self, msgid: str, dest: str) -> None:
        with self.db.connection_context():
            self.radio_dispatcher.on_failed(msgid, dest)

    def _on_status_report(self, report: pdu.StatusReport) -> None:
        with self.db.connection_context():
            sms_dispatch.delivered(report.message_ref, report.delivered)

    def _on_call(self, number: str) -> None:
        """+CLIP: one ringing call on the board (the modem layer already merged repeated RINGs)."""
        with self.db.connection_context():
            call = incoming_call(number, CallSource.GSM)
        log.info("incoming call %s from %s", call.id, "withheld" if not call.caller_number else "caller id")

    def _on_sms(self, message: pdu.Deliver) -> None:
        """Route one (reassembled) SMS. Raising would keep it on the SIM for a retry, so only
        a database failure may escape; everything else ends as an update or a call to review."""
        with self.db.connection_context():
            if looks_like_dispatch(message.text):
                agency = station_agency(self.data_dir, self.callsign)
                if agency is not None:  # an agency station: a dispatch by SMS for its inbox
                    receipt = receive_text(self.data_dir, agency, "sms", message.sender, message.text)
                    if receipt.ok:
                        return
            outcome = route_sms(message.sender, message.text)
        log.info("SMS from %s: %s", "agency" if outcome.startswith("dispatch") else "caller", outcome)

    def _on_state(self, state: ModemState) -> None:
        with self.db.connection_context():
            write_status("modem", json.dumps(asdict(state), default=str))
