"""The bridge daemon: owns the serial hardware and ties it to the node's incident app.

First slice (issue 4): the GSM modem's caller ID (+CLIP) becomes a ringing call on the
call-takers' board; the call-taker who presses "Jawab" gets the intake form with the
number and its history filled in. An SMS from an agency's registered number that quotes
one of its open dispatch codes ("OK 4821", "SELESAI 4821 2 korban ke RSUD") updates that
dispatch on the timeline with channel "sms"; any other SMS becomes an information call
for the call-taker to review, never lost. Modem state is written for the status header.
Sending dispatches by SMS and radio, and channel fallback, come next.

`Bridge(data_dir, modem_port)` does nothing until `start()`; `stop()` releases the port.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path

from edge.db import open_database
from edge.enums import CallSource
from edge.services.calls import incoming_call
from firmware_bridge import sms_dispatch
from firmware_bridge.modem import pdu
from firmware_bridge.modem.device import Modem, ModemException, ModemState
from firmware_bridge.sms_routing import route_sms
from sync.models import SyncStatus

log = logging.getLogger("siaga112.bridge")


class Bridge:
    def __init__(self, data_dir: str | Path, modem_port: str, **modem_settings: object) -> None:
        self.data_dir = Path(data_dir)
        self.modem_port = modem_port
        self.modem_settings = modem_settings
        self.modem: Modem | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.poll_seconds = 1.0

    def start(self) -> None:
        self.db = open_database(self.data_dir)
        self.modem = Modem(self.modem_port, **self.modem_settings)
        self.modem.on_call = self._on_call
        self.modem.on_sms = self._on_sms
        self.modem.on_status_report = self._on_status_report
        with self.db.connection_context():
            sms_dispatch.ensure_table(self.db)
        self.modem.on_state = self._on_state
        self.modem.start()
        self._thread = threading.Thread(target=self._send_loop, name="bridge-send", daemon=True)
        self._thread.start()
        log.info("bridge started: modem on %s", self.modem_port)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.modem is not None:
            self.modem.stop()
        self.db.close()

    def healthy(self) -> bool:
        """For the systemd watchdog: the send loop is alive (the modem itself may be unplugged:
        that is reported in the header, not fixed by a restart)."""
        return self._thread is not None and self._thread.is_alive()

    def _send_loop(self) -> None:
        """Dispatches whose channel is SMS go out as soon as the modem can send."""
        while not self._stop.wait(self.poll_seconds):
            try:
                with self.db.connection_context():
                    sms_dispatch.send_pending(self.modem, self.data_dir)
            except ModemException as exc:
                log.warning("SMS sending paused: %s", exc)
            except Exception:  # noqa: BLE001 - keep the bridge alive; the next round retries
                log.exception("SMS send loop error")

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
            outcome = route_sms(message.sender, message.text)
        log.info("SMS from %s: %s", "agency" if outcome.startswith("dispatch") else "caller", outcome)

    def _on_state(self, state: ModemState) -> None:
        with self.db.connection_context():
            SyncStatus.insert(key="modem", value=json.dumps(asdict(state), default=str)).on_conflict_replace().execute()
