"""The GSM modem over pyserial: AT commands, caller ID, SMS in PDU mode, and recovery.

`Modem(port)` stores settings only; `start()` opens the port, starts a reader thread (bytes ->
`at.ResponseParser` -> the command in flight or the URC queue) and a worker thread (URCs,
callbacks, periodic health and storage scans) and initialises the modem; `stop()` closes it.
Callbacks: +CLIP -> `on_call(number)`, +CMTI/+CMT -> `on_sms(deliver)` (parts reassembled),
+CDS -> `on_status_report(report)`, state changes -> `on_state(state)`. A stored SMS is deleted
only after `on_sms` returned, so nothing is lost. Unplugged: `ModemGone`, state not connected,
reopened with back-off (1 s doubling to 30 s) and re-initialised, as after a modem reset
(RDY/^BOOT with our settings gone) or repeated timeouts. Every line in and out is logged on
`siaga112.bridge.modem` (frames at DEBUG).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

import serial

from edge.logsetup import masked_number, redacted
from firmware_bridge.modem import at, pdu

log = logging.getLogger("siaga112.bridge.modem")

CNMI = "2,1,0,1,0"  # new SMS stored and announced with +CMTI, status reports routed as +CDS
INIT = ("AT", "ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0", f"AT+CNMI={CNMI}", "AT+CLIP=1", "AT+CREG=1")
BOOT_MARKERS = ("RDY", "^BOOT")
CTRL_Z, ESC = b"\x1a", b"\x1b"


class ModemException(Exception):
    """Base of what `Modem` commands raise."""


class ModemError(ModemException):
    """The modem answered with ERROR, +CME ERROR or +CMS ERROR (`final` says which)."""

    def __init__(self, final: at.Final, command: str = "") -> None:
        detail = f" {final.error}" if final.error is not None else ""
        super().__init__(f"{command}: {final.code.value}{detail} {final.text}".strip())
        self.final, self.command = final, command


class ModemTimeout(ModemException):
    """No final result code in time."""


class ModemGone(ModemException):
    """The port is closed or vanished (unplugged); the modem reconnects by itself."""


@dataclass(frozen=True)
class ModemState:
    """What the status header shows; `connected` False means the port is gone."""

    sim_ready: bool = False
    registered: bool = False
    reg_stat: int | None = None
    rssi: int | None = None
    dbm: int | None = None
    operator: str | None = None
    last_ok_at: float | None = None  # time.time() of the last OK
    connected: bool = False


@dataclass(frozen=True)
class StoredSms:
    """A message in the modem's storage; `message` is None when its PDU does not decode."""

    index: int
    stat: int
    pdu: str
    message: pdu.Deliver | pdu.StatusReport | pdu.Submit | None


@dataclass
class _Pending:
    command: str
    lines: list[str] = field(default_factory=list)
    final: at.Final | None = None
    gone: bool = False
    prompt: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class Modem:
    def __init__(self, port: str, baudrate: int = 115200, *, timeout: float = 5.0, send_timeout: float = 60.0,
                 poll_interval: float = 30.0, backoff: tuple[float, float] = (1.0, 30.0), max_timeouts: int = 2,
                 part_timeout: timedelta = timedelta(minutes=10), ring_window: float = 10.0) -> None:
        self.port, self.baudrate, self.timeout, self.send_timeout = port, baudrate, timeout, send_timeout
        self.poll_interval, self.backoff, self.max_timeouts = poll_interval, backoff, max_timeouts
        self.part_timeout, self.ring_window = part_timeout, ring_window
        self.on_call: Callable[[str], object] | None = None
        self.on_sms: Callable[[pdu.Deliver], object] | None = None
        self.on_status_report: Callable[[pdu.StatusReport], object] | None = None
        self.on_state: Callable[[ModemState], object] | None = None
        self.state = ModemState()
        self.inits = 0  # completed initialisations (the first one and every recovery)
        self._serial: serial.SerialBase | None = None
        self._parser = at.ResponseParser()
        self._pending: _Pending | None = None
        self._cmd_lock, self._parse_lock, self._state_lock = threading.Lock(), threading.Lock(), threading.Lock()
        self._init_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()  # initialised since the port was (re)opened
        self._threads: list[threading.Thread] = []
        self._timeouts, self._ref, self._last_ok = 0, 0, None
        self._reassembler = pdu.Reassembler()
        self._parts: dict[tuple, set[int]] = {}  # (sender, ref, total) -> storage indices
        self._held: set[int] = set()  # indices of parts fed to the reassembler, waiting for the rest
        self._bad: set[tuple[int, str]] = set()
        self._retry: list[tuple[str, object]] = []  # callbacks that failed for +CMT/+CDS messages
        self._last_clip: tuple[str, float] = ("", 0.0)

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        opened = self._open()
        self._threads = [threading.Thread(target=self._read_loop, name="modem-reader", daemon=True),
                         threading.Thread(target=self._work_loop, name="modem-worker", daemon=True)]
        for thread in self._threads:
            thread.start()
        if opened:
            self._guard("init", self._initialise)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(("stop", None))
        self._abort_pending()
        for thread in self._threads:
            thread.join(5)
        ser, self._serial = self._serial, None
        if ser:
            ser.close()

    def wait_ready(self, timeout: float) -> bool:
        """True once the modem is (re)initialised, False after `timeout` seconds."""
        return self._ready.wait(timeout)

    def _open(self) -> bool:
        try:
            ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.1)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.warning("cannot open modem %s: %s", self.port, exc)
            return False
        with self._parse_lock:
            self._parser.reset()
        self._serial, self._timeouts = ser, 0
        log.info("modem port %s open", self.port)
        return True

    def _lost(self, exc: BaseException) -> None:
        ser, self._serial = self._serial, None
        if ser is None:
            return
        with contextlib.suppress(Exception):  # closing a vanished device may fail; it is gone anyway
            ser.close()
        log.warning("modem %s gone: %s", self.port, exc)
        self._ready.clear()
        self._abort_pending()
        self._set_state(ModemState(last_ok_at=self._last_ok))

    def _abort_pending(self) -> None:
        with self._parse_lock:
            if self._pending:
                self._pending.gone = True
                self._pending.prompt.set()
                self._pending.done.set()

    # --- reader thread -------------------------------------------------------------------------

    def _read_loop(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            ser = self._serial
            if ser is None:
                if self._stop.wait(delay):
                    return
                if self._open():
                    delay = self.backoff[0]
                    self._queue.put(("init", None))
                else:
                    delay = min(delay * 2, self.backoff[1])
                continue
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                self._lost(exc)  # pyserial on a hung-up pty: EIO, "returned no data" or a closed fd
                continue
            if data:
                with self._parse_lock:
                    for event in self._parser.feed(data):
                        self._dispatch(event)

    def _dispatch(self, event: at.Event) -> None:  # called with _parse_lock held
        pending = self._pending
        if isinstance(event, at.Garbled):
            return log.warning("garbled from modem (%s): %s", event.reason, redacted(repr(event.raw)))
        log.debug("<- %s", event)
        if isinstance(event, at.Info) and (not pending or _foreign(event.line, pending.command)):
            event = at.Urc("unknown", (), event.line)  # RDY, or "+QIND: ..." during AT+CSQ
        if isinstance(event, at.Urc):
            self._queue.put(("urc", event))
        elif isinstance(event, at.Info):
            pending.lines.append(event.line)
        elif isinstance(event, at.Final | at.Prompt) and pending:
            pending.final = event if isinstance(event, at.Final) else pending.final
            (pending.done if isinstance(event, at.Final) else pending.prompt).set()

    # --- commands ------------------------------------------------------------------------------

    def command(self, cmd: str, timeout: float | None = None) -> list[str]:
        """Run one AT command; its information lines. Raises ModemError/ModemTimeout/ModemGone."""
        return self._run(cmd, timeout or self.timeout)

    def _run(self, cmd: str, timeout: float, payload: bytes | None = None) -> list[str]:
        with self._cmd_lock:
            if self._serial is None:
                raise ModemGone(f"{self.port} is not open")
            pending = _Pending(cmd)
            with self._parse_lock:
                self._parser.begin(cmd)
                self._pending = pending
            try:
                self._write(cmd.encode("ascii") + b"\r", cmd)
                if payload is not None:
                    if not pending.prompt.wait(timeout) and not pending.done.is_set():
                        self._write(ESC, "<Esc>")
                        self._timed_out(cmd)
                    if not pending.done.is_set():
                        self._write(payload + CTRL_Z, payload.decode() + "<Ctrl-Z>")
                        timeout = self.send_timeout
                if not pending.done.wait(timeout):
                    self._timed_out(cmd)
            finally:
                with self._parse_lock:
                    self._pending = None
        if pending.gone:
            raise ModemGone(f"{self.port} vanished during {cmd}")
        if not pending.final.ok:
            raise ModemError(pending.final, cmd)
        self._timeouts, self._last_ok = 0, time.time()
        return pending.lines

    def _write(self, data: bytes, shown: str) -> None:
        log.debug("-> %s", shown)
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:  # None: gone already
            self._lost(exc)
            raise ModemGone(str(exc)) from exc

    def _timed_out(self, cmd: str) -> None:
        with self._parse_lock:
            for event in self._parser.flush():
                self._dispatch(event)
        self._timeouts += 1
        if self._timeouts >= self.max_timeouts and self._ready.is_set():
            log.warning("%d commands timed out in a row: re-initialising the modem", self._timeouts)
            self._ready.clear()
            self._queue.put(("init", None))
        raise ModemTimeout(f"{cmd}: no answer within the timeout")

    def health(self) -> ModemState:
        """Ask the modem for SIM, registration, signal and operator; the new state."""
        state = self.state
        try:
            sim = self._query("AT+CPIN?", lambda line: "READY" in line.upper())
            creg = [at.parse_creg(line) for line in self._query("AT+CREG?", list, []) if line.startswith("+CREG")]
            stat = next((s for n, s in creg if n is not None), creg[-1][1] if creg else None)
            rssi = self._query("AT+CSQ", lambda line: at.parse_csq(line)[0])
            operator = self._query("AT+COPS?", lambda line: (re.findall(r'"([^"]*)"', line) or [None])[0])
        except ModemTimeout as exc:
            log.warning("health check: %s", exc)
            return state
        except ModemGone:
            return self.state
        rssi = None if rssi in (None, 99) else rssi
        state = ModemState(bool(sim), stat in (1, 5), stat, rssi, at.csq_to_dbm(rssi) if rssi is not None else None,
                           operator, self._last_ok, True)
        self._set_state(state)
        return state

    def _query(self, cmd: str, parse: Callable, default=None):
        """Parse the answer's first line (or all lines when `parse` is list); `default` on errors."""
        try:
            lines = self.command(cmd)
            return parse(lines) if parse is list else parse(lines[0]) if lines else default
        except (ModemError, at.AtParseError, ValueError, IndexError) as exc:
            log.info("%s: %s", cmd, exc)
            return default

    def send_sms(self, number: str, text: str, status_report: bool = True) -> list[int]:
        """Send in PDU mode (7-bit or UCS2, concatenated when long); the message reference of each part."""
        self._ref = (self._ref + 1) % 256
        refs = []
        for part in pdu.encode_submit(number, text, status_report=status_report, reference=self._ref):
            lines = self._run(f"AT+CMGS={part.tpdu_length}", self.timeout, payload=part.hex.encode("ascii"))
            found = [m.group(1) for line in lines if (m := re.match(r"\+CMGS:\s*(\d+)", line))]
            if not found:
                raise ModemException(f"no message reference for part {part.part}/{part.total}: {lines}")
            refs.append(int(found[0]))
        log.info("SMS to %s sent in %d part(s), references %s", masked_number(number), len(refs), refs)
        return refs

    def read_sms(self, index: int) -> StoredSms | None:
        """The message at `index`, None when the place is empty."""
        try:
            found = _stored(self.command(f"AT+CMGR={index}"), index)
        except ModemError as exc:
            if exc.final.error == 321:  # invalid memory index: nothing there
                return None
            raise
        return found[0] if found else None

    def list_sms(self) -> list[StoredSms]:
        return _stored(self.command("AT+CMGL=4"))

    def delete_sms(self, index: int) -> None:
        self.command(f"AT+CMGD={index}")

    # --- worker thread ---------------------------------------------------------------------------

    def _work_loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while not self._stop.is_set():
            try:
                kind, item = self._queue.get(timeout=max(0.0, next_poll - time.monotonic()))
            except queue.Empty:
                kind, item = "poll", None
                next_poll = time.monotonic() + self.poll_interval
            if kind == "stop":
                return
            self._guard(kind, {"poll": self._poll, "init": self._initialise, "urc": partial(self._urc, item)}[kind])

    def _guard(self, what: str, fn: Callable) -> None:
        try:
            fn()
        except ModemException as exc:  # the modem misbehaved: logged, recovery is under way
            if not self._stop.is_set():
                log.warning("modem %s: %s", what, exc)
        except Exception:  # a bug or a bad callback must not stop the bridge
            log.exception("modem %s failed", what)

    def _initialise(self) -> None:
        if not self._init_lock.acquire(blocking=False):
            return  # start() is initialising already
        try:
            self._ready.clear()
            for cmd in INIT:
                try:
                    self.command(cmd)
                except ModemError as exc:  # e.g. AT+CPIN? without a SIM: carry on, health() tells
                    log.warning("init %s", exc)
            self.inits += 1
            self._ready.set()
        finally:
            self._init_lock.release()
        log.info("modem %s initialised", self.port)
        self.health()
        self._scan()

    def _poll(self) -> None:
        if self._serial is None:
            return
        if not self._ready.is_set():
            return self._initialise()
        self.health()
        retry, self._retry = self._retry, []
        for name, message in retry:
            self._deliver(name, message)
        expired: dict[tuple, list[pdu.Deliver]] = {}  # a part never came: hand over those that did
        for part in self._reassembler.expire(self.part_timeout):
            expired.setdefault((part.sender, *part.concat[:2]), []).append(part)
        for key, parts in expired.items():
            indices = self._parts.pop(key, set())
            self._held -= indices
            if all([self._callback("on_sms", part) for part in parts]):
                for index in sorted(indices):
                    self.delete_sms(index)
        self._scan()

    def _urc(self, urc: at.Urc) -> None:
        match urc.kind, urc.args:
            case "+CLIP", (number, _, *_):
                last, at_time = self._last_clip
                self._last_clip = (number, time.monotonic())
                if number != last or time.monotonic() - at_time > self.ring_window:  # one call rings often
                    log.info("incoming call from %s", masked_number(number) or "a withheld number")
                    self._callback("on_call", number)
            case "+CMTI", (_, index):
                if self.on_sms and index not in self._held:
                    stored = self.read_sms(index)
                    if stored:
                        self._process(stored)
            case ("+CMT", (_, _, hex_pdu)) | ("+CDS", (_, hex_pdu)):
                self._process(StoredSms(0, 0, hex_pdu, _decode(hex_pdu)), in_storage=False)
            case "+CREG", (stat, *_):
                self._set_state(replace(self.state, reg_stat=stat, registered=stat in (1, 5)))
            case "NO CARRIER", _:
                self._last_clip = ("", 0.0)
            case "unknown" | "^BOOT", _ if urc.raw.startswith(BOOT_MARKERS):
                cnmi = self._query("AT+CNMI?", str, "")  # Huawei says ^BOOT without rebooting
                if CNMI not in cnmi.replace(" ", ""):
                    log.warning("modem restarted (%s): re-initialising", urc.raw)
                    self._initialise()
            case _:
                log.info("unsolicited from modem: %s", redacted(urc.raw))

    def _scan(self) -> None:
        """Offer what is in storage and not yet taken (arrived while away, or a callback failed)."""
        if self.on_sms is None and self.on_status_report is None:
            return
        for stored in self.list_sms():
            if stored.index not in self._held:
                self._process(stored)

    def _process(self, stored: StoredSms, in_storage: bool = True) -> None:
        """Hand a message to its callback (parts once complete); delete it only after success."""
        message, indices = stored.message, {stored.index} if in_storage else set()
        if isinstance(message, pdu.StatusReport):
            if not in_storage:
                self._deliver("on_status_report", message)
            elif self._callback("on_status_report", message):
                self.delete_sms(stored.index)
            return
        if not isinstance(message, pdu.Deliver):
            if (stored.index, stored.pdu) not in self._bad:  # kept: a person may want it
                log.warning("not a received SMS, left in storage at %s (PDU at DEBUG)", stored.index)
                log.debug("PDU at %s: %s", stored.index, stored.pdu)
                self._bad.add((stored.index, stored.pdu))
            return
        key = (message.sender, *message.concat[:2]) if message.concat and message.concat[1] > 1 else None
        if key:
            indices = self._parts.setdefault(key, set()) | indices
            self._parts[key] = indices
        whole = self._reassembler.add(message)
        if whole is None:
            self._held |= indices
            return
        self._parts.pop(key, None)
        self._held -= indices
        if not indices:
            self._deliver("on_sms", whole)
        elif self._callback("on_sms", whole):
            for index in sorted(indices):
                self.delete_sms(index)

    def _deliver(self, name: str, message: object) -> None:
        """Callback for a message that is in no storage: kept in memory for a retry if it fails."""
        if self._callback(name, message) is False:
            self._retry.append((name, message))

    def _callback(self, name: str, *args: object) -> bool | None:
        """True when the callback returned, False when it raised, None when there is none."""
        callback = getattr(self, name)
        if callback is None:
            log.debug("no %s callback for %s", name, args)
            return None
        try:
            callback(*args)
            return True
        except Exception:
            log.exception("%s failed (kept, offered again later)", name)
            return False

    def _set_state(self, new: ModemState) -> None:
        with self._state_lock:
            old, self.state = self.state, new
        if replace(old, last_ok_at=None) != replace(new, last_ok_at=None):
            log.info("modem state: %s", new)
            self._callback("on_state", new)


def _foreign(line: str, command: str) -> bool:
    """A line that cannot belong to the command in flight: a boot marker, or "+NAME: ..." of
    another command (an unsolicited code the parser does not know)."""
    match = re.match(r"([+^][A-Za-z0-9_]+):", line)
    return line.startswith(BOOT_MARKERS) or bool(match and match.group(1).upper() != at.command_name(command))


def _decode(hex_pdu: str) -> pdu.Deliver | pdu.StatusReport | pdu.Submit | None:
    try:
        return pdu.decode_pdu(hex_pdu)
    except pdu.PduError as exc:
        log.warning("undecodable PDU (%d hex digits, logged at DEBUG): %s", len(hex_pdu), exc)
        log.debug("undecodable PDU %s", hex_pdu)
        return None


def _stored(lines: list[str], index: int | None = None) -> list[StoredSms]:
    """+CMGR/+CMGL answers: a header line, then the PDU line."""
    found = []
    for header, hex_pdu in zip(lines, lines[1:], strict=False):
        if not header.startswith(("+CMGR:", "+CMGL:")):
            continue
        try:
            head = at.parse_cmgl_cmgr_header(header)
        except at.AtParseError as exc:
            log.warning("bad storage header %r: %s", header, exc)
            continue
        found.append(StoredSms(head.index if head.index is not None else index, head.stat, hex_pdu, _decode(hex_pdu)))
    return found
