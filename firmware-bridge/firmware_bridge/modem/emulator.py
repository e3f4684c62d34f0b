"""A GSM modem on a pseudo-terminal, for tests, the demo and people without hardware.

`ModemEmulator(link=...)` does nothing until `start()`, which opens a pty (raw mode), points
`link` at it and answers the AT dialogue of a Quectel-like modem (3GPP TS 27.007/27.005, PDU
mode only) from one thread. All modem state belongs to that thread; the scripting API (`ring`,
`receive_sms`, `set_signal`, `reset`, `unplug`, `garble`, ...) hands work to it. Faithful
enough for gammu `identify` and `sendsms`. `sent` holds what the host sent (`SentSms`), `log`
every byte in ("in") and out ("out"). docs/modem.md lists the commands.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import os
import random
import re
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from firmware_bridge.modem import pdu

log = logging.getLogger("siaga112.bridge.emulator")

WIB = timezone(timedelta(hours=7))
CHARSETS = ("IRA", "GSM", "UCS2", "HEX")
CME = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
       11: "SIM PIN required", 50: "incorrect parameters"}
BOOT_URCS = ("RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE")
TESTS = {  # answers to AT+X=?
    "+CMEE": "+CMEE: (0-2)", "+CLIP": "+CLIP: (0,1)", "+CREG": "+CREG: (0-2)", "+CSQ": "+CSQ: (0-31,99),(0-7,99)",
    "+COPS": '+COPS: (2,"TELKOMSEL","TSEL","51010",7),,(0-4),(0-2)', "+CMGF": "+CMGF: (0)",
    "+CSCS": "+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")", "+CSMS": "+CSMS: (0)",
    "+CNMI": "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)", "+CPMS": '+CPMS: ("SM"),("SM"),("SM")',
    "+CMGL": "+CMGL: (0-4)", "+CFUN": "+CFUN: (0,1,4),(0,1)", "+CMGD": "+CMGD: (1-30),(0-4)",
}
KNOWN = dict.fromkeys(("+CGMI", "+CGMM", "+CGMR", "+CGSN", "+CIMI", "+GMI", "+GMM", "+GMR", "+GSN", "+GCAP", "+CPIN",
                       "+CSCA", "+CMGS", "+CMGR", "+CHUP"))
PROMPT = object()  # a handler's answer: "> ", then the PDU is typed


class _Error(Exception):
    def __init__(self, family: str, code: int = 0) -> None:
        super().__init__(family, code)
        self.family, self.code = family, code


@dataclass
class SentSms:
    """One PDU the host sent with AT+CMGS: the message reference it got and the decoded submit."""

    mr: int
    pdu: str
    submit: pdu.Submit

    def __getattr__(self, name: str):  # recipient, text, encoding, concat, status_report_requested
        return getattr(self.__dict__["submit"], name)


@dataclass
class Settings:
    """What a reset (AT+CFUN=1,1, ATZ, a power cycle) puts back to factory values."""

    echo: bool = True
    cmee: int = 0
    cscs: str = "IRA"
    cnmi: list[int] = field(default_factory=lambda: [2, 1, 0, 0, 0])
    clip: int = 0
    creg: int = 0
    cfun: int = 1


class ModemEmulator:
    manufacturer, model, revision = "Quectel", "EC25", "EC25EFAR06A06M4G"
    imei, imsi, operator, capacity = "867962040000004", "510101234567890", "TELKOMSEL", 30

    def __init__(self, link: str | Path | None = None, *, smsc: str = "+62811000000", report_delay: float = 0.5,
                 boot_delay: float = 0.3, seed: int = 0) -> None:
        self.link = Path(link) if link else None
        self.smsc, self.report_delay, self.boot_delay = smsc, report_delay, boot_delay
        self.report_status = 0  # TP-Status of the status reports (0: delivered)
        self.sim, self.rssi, self.stat, self.call = "READY", 20, 1, "idle"
        self.storage: dict[int, list] = {}  # SIM storage: index -> [stat, pdu hex]
        self.sent: list[SentSms] = []
        self.log: deque[tuple[str, bytes]] = deque(maxlen=100_000)
        self.settings = Settings()
        self.pty_name: str | None = None
        self._rng = random.Random(seed)
        self._master = self._slave = None
        self._buf = bytearray()
        self._pdu_len: int | None = None  # set while a PDU is typed after "> "
        self._booting, self._reboot_after, self._garble, self._mr = False, False, 0, 0
        self._interleave: list[bytes] = []
        self._ref = itertools.count(1)
        self._gen = 0  # bumped by a reboot, unplug or stop: timers of the old session do nothing
        self._lock = threading.RLock()  # all modem state: reader thread, timers, scripting API
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------

    @property
    def port(self) -> str:
        """The path a client opens: the link when there is one (it survives unplug/replug)."""
        return str(self.link) if self.link else str(self.pty_name)

    def start(self) -> None:
        self._stopping.clear()
        self._call(self._open_pty)
        self._thread = threading.Thread(target=self._loop, name="modem-emulator", daemon=True)
        self._thread.start()
        log.info("modem emulator on %s%s", self.pty_name, f" (link {self.link})" if self.link else "")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(5)
        self._call(self._unplug)
        self._thread = None

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave, self.pty_name = master, slave, os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.pty_name)
            tmp.replace(self.link)

    # --- scripting API (any thread) -----------------------------------------------------------

    def ring(self, number: str, times: int = 1, interval: float = 3.0) -> None:
        """An incoming voice call: RING (and +CLIP when enabled) `times` times, `interval` s apart."""
        self._call(lambda: self._ring(number, times, interval))

    def receive_sms(self, sender: str, text: str, *, store: bool = True) -> list[int]:
        """An SMS from the network, in parts when long. store: kept in SIM storage and announced
        with +CMTI (returns the indices); else handed over directly with +CMT."""
        return self._call(lambda: self._receive(sender, text, store))

    def set_signal(self, rssi: int) -> None:
        self._call(lambda: setattr(self, "rssi", rssi))

    def set_registration(self, stat: int) -> None:
        """0 not registered, 1 home, 2 searching, 3 denied, 5 roaming (+CREG URC when enabled)."""
        self._call(lambda: self._set_stat(stat))

    def set_sim(self, state: str) -> None:
        """"READY", "SIM PIN" or "NOT INSERTED"."""
        self._call(lambda: setattr(self, "sim", state))

    def reset(self) -> None:
        """The modem reboots on its own (brown-out, watchdog): settings lost, boot URCs follow."""
        self._call(self._reboot)

    def unplug(self) -> None:
        """The USB cable is pulled: pty and link disappear, the client reads EOF/EIO."""
        self._call(self._unplug)

    def replug(self) -> None:
        """The modem is back (freshly booted) behind the same link path."""
        self._call(self._replug)

    def garble(self, next_n_responses: int = 1) -> None:
        """Corrupt the next n command responses: noise bytes, truncated, final result code lost."""
        self._call(lambda: setattr(self, "_garble", self._garble + next_n_responses))

    def interleave(self, raw: bytes) -> None:
        """Put raw bytes (an unsolicited code, say) into the middle of the next command response."""
        self._call(lambda: self._interleave.append(raw))

    def inject(self, raw: bytes) -> None:
        """Write raw bytes to the host now (unsolicited garbage, unknown URCs)."""
        self._call(lambda: self._write(raw))

    def sent_texts(self) -> list[str]:
        """Texts of the sent messages, concatenated parts joined in order."""
        done, parts = [], {}
        for sms in list(self.sent):
            if not sms.concat:
                done.append(sms.text)
                continue
            ref, total, seq = sms.concat
            got = parts.setdefault((sms.recipient, ref, total), {})
            got[seq] = sms.text
            if len(got) == total:
                done.append("".join(t for _, t in sorted(parts.pop((sms.recipient, ref, total)).items())))
        return done

    def transcript(self) -> str:
        """The dialogue so far, a chunk a line: '>> ' host to modem, '<< ' modem to host."""
        return "\n".join(("<< " if d == "out" else ">> ") + repr(b)[2:-1] for d, b in list(self.log))

    def _call(self, fn: Callable):
        with self._lock:
            return fn()

    def _after(self, delay: float, fn: Callable) -> None:
        """fn() in `delay` seconds, unless the modem rebooted, was unplugged or stopped meanwhile."""
        gen = self._gen

        def run() -> None:
            with self._lock:
                if gen == self._gen:
                    fn()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        timer.start()

    # --- the thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            master = self._master
            try:
                if master is None or not select.select([master], [], [], 0.1)[0]:
                    time.sleep(0.05 if master is None else 0)
                    continue
            except (OSError, ValueError):  # unplugged while we waited
                continue
            with self._lock:
                if master != self._master:
                    continue
                try:
                    data = os.read(master, 4096)
                except OSError:
                    continue
                self.log.append(("in", data))
                log.debug(">> %r", data)
                try:
                    self._received(data)
                except Exception:  # an emulator bug must not kill the emulator
                    log.exception("emulator failed on %d bytes from the host (see the DEBUG trace)", len(data))

    def _write(self, data: bytes) -> None:
        self.log.append(("out", data))
        log.debug("<< %r", data)
        deadline = time.monotonic() + 1
        while data and self._master is not None:
            try:
                data = data[os.write(self._master, data):]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    log.warning("host is not reading: %d bytes dropped", len(data))
                    return
                select.select([], [self._master], [], 0.05)
            except OSError:
                return

    def _urc(self, *lines: str) -> None:
        self._write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))

    def _received(self, data: bytes) -> None:
        if self._booting:
            return  # a booting modem hears nothing
        echo = bytearray()  # echoed a chunk at a time, always before the response
        for byte in data:
            char = bytes([byte])
            if self.settings.echo and (self._pdu_len is None or byte not in (0x1A, 0x1B)):
                echo += char
            if byte in (0x0D, 0x1A, 0x1B) and echo:
                self._write(bytes(echo))
                echo.clear()
            if self._pdu_len is not None:  # typing a PDU after "> ": Ctrl-Z sends, Esc cancels
                if byte == 0x1A:
                    self._finish_pdu()
                elif byte == 0x1B:
                    self._pdu_len = None
                    self._buf.clear()
                    self._respond([], "OK")
                elif char.isalnum():
                    self._buf += char
            elif byte == 0x0D:
                line = self._buf.decode("latin-1").strip()
                self._buf.clear()
                self._execute(line)
            elif byte == 0x08:
                del self._buf[-1:]
            elif byte != 0x0A and len(self._buf) < 1024:
                self._buf += char
        if echo:
            self._write(bytes(echo))

    # --- commands ------------------------------------------------------------------------------

    def _execute(self, line: str) -> None:
        if line[:2].upper() != "AT":
            return  # modems ignore what does not start with AT
        info: list[str] = []
        body = line[2:]
        try:
            while body:
                if body[0] in "+^$%":  # extended commands, ';' between them
                    command, body = re.match(r'((?:[^";]|"[^"]*")*);?(.*)', body).groups()
                    m = re.fullmatch(r"([+^$%][A-Za-z]+)(=\?|\?|=(.*))?", command)
                    if not m:
                        raise _Error("CME", 4)
                    form = m.group(2) or ""
                    kind = "test" if form == "=?" else "read" if form == "?" else "set" if form else "exec"
                    result = self._extended(m.group(1).upper(), kind, _args(m.group(3)))
                    if result is PROMPT:
                        self._buf.clear()
                        return self._write(b"\r\n> ")
                else:  # basic commands: ATE0V1, ATI, ATA, ATH, ATZ
                    m = re.match(r"(&?[A-Za-z])(\d*)", body)
                    if not m:
                        raise _Error("")
                    result = self._basic(m.group(1).upper(), m.group(2))
                    body = "" if m.group(1).upper() == "D" else body[m.end():]
                    if isinstance(result, str):  # a result code of its own (ATA)
                        return self._respond(info, result)
                info += result
        except _Error as err:
            if err.family and self.settings.cmee:
                text = CME.get(err.code, "unknown") if err.family == "CME" and self.settings.cmee == 2 else err.code
                return self._respond([], f"+{err.family} ERROR: {text}")
            return self._respond([], "ERROR")
        self._respond(info, "OK")
        if self._reboot_after:
            self._reboot()

    def _respond(self, info: list[str], final: str) -> None:
        chunks = [line.encode("latin-1") + b"\r\n" for line in info]  # info lines, then a blank line
        if self._interleave:  # an unsolicited code squeezed in after the first info line
            chunks.insert(min(1, len(chunks)), self._interleave.pop(0).strip(b"\r\n") + b"\r\n")
        data = (b"\r\n" + b"".join(chunks) if chunks else b"") + b"\r\n" + final.encode() + b"\r\n"
        if self._garble:
            self._garble -= 1
            cut = max(3, len(data) * 2 // 3)
            data = data[: cut // 2] + bytes(self._rng.randrange(0x80, 0xFF) for _ in range(4)) + data[cut // 2:cut]
        self._write(data)

    def _basic(self, name: str, arg: str) -> list[str] | str:
        s = self.settings
        if name == "E":
            s.echo = arg != "0"
        elif name == "I":
            return [self.manufacturer, self.model, f"Revision: {self.revision}"]
        elif name in ("Z", "&F"):
            self.settings = Settings()
        elif name == "A":
            if self.call != "ringing":
                return "NO CARRIER"
            self.call = "active"
        elif name == "H":
            self.call = "idle"
        elif name not in ("Q", "&C", "&D", "&K", "&W", "X") and (name, arg) not in (("V", ""), ("V", "1")):
            raise _Error("CME", 4)  # ATD (no voice calls out) and ATV0 (numeric codes) included
        return []

    def _extended(self, name: str, kind: str, args: list[str]):  # noqa: C901 - one table of commands
        s, num = self.settings, (int(args[0]) if args and args[0].isdigit() else -1)
        if kind == "test" and name in TESTS | KNOWN:
            return [TESTS[name]] if name in TESTS else []
        name = {"+GMI": "+CGMI", "+GMM": "+CGMM", "+GMR": "+CGMR", "+GSN": "+CGSN"}.get(name, name)
        registered, kind_ = self._stat() in (1, 5), 145 if self.smsc.startswith("+") else 129
        answers = {  # what only reads state
            ("+CGMI", "exec"): [self.manufacturer], ("+CGMM", "exec"): [self.model],
            ("+CGMR", "exec"): [f"Revision: {self.revision}"], ("+CGSN", "exec"): [self.imei],
            ("+GCAP", "exec"): ["+GCAP: +CGSM"], ("+CSQ", "exec"): [f"+CSQ: {self.rssi},99"],
            ("+CMEE", "read"): [f"+CMEE: {s.cmee}"], ("+CLIP", "read"): [f"+CLIP: {s.clip},1"],
            ("+CREG", "read"): [f"+CREG: {s.creg},{self._stat()}" + (',"1A2B","01C3D4E"' if s.creg == 2 else "")],
            ("+COPS", "read"): [f'+COPS: 0,0,"{self._str(self.operator)}",7' if registered else "+COPS: 0"],
            ("+CSCS", "read"): [f'+CSCS: "{s.cscs}"'], ("+CSCA", "read"): [f'+CSCA: "{self._str(self.smsc)}",{kind_}'],
            ("+CMGF", "read"): ["+CMGF: 0"], ("+CSMS", "read"): ["+CSMS: 0,1,1,1"], ("+COPS", "set"): [],
            ("+CNMI", "read"): ["+CNMI: " + ",".join(map(str, s.cnmi))], ("+CFUN", "read"): [f"+CFUN: {s.cfun}"],
        }
        if (name, kind) in answers:
            return answers[name, kind]
        match name, kind:
            case "+CIMI", "exec":
                self._need_sim("CME")
                return [self.imsi]
            case ("+CMEE" | "+CLIP" | "+CREG") as n, "set" if 0 <= num <= (1 if n == "+CLIP" else 2):
                setattr(s, n[1:].lower(), num)
            case "+CPIN", "read":
                if self.sim == "NOT INSERTED":
                    raise _Error("CME", 10)
                return [f"+CPIN: {self.sim}"]
            case "+CPIN", "set" if self.sim == "SIM PIN" and num >= 0:
                self.sim = "READY"
            case "+CSCS", "set" if args and self._unstr(args[0]).upper() in CHARSETS:
                s.cscs = self._unstr(args[0]).upper()
            case "+CSCA", "set" if args and args[0]:
                self.smsc = self._unstr(args[0])
            case "+CMGF", "set":
                if num != 0:
                    raise _Error("CMS", 303)  # PDU mode only
            case "+CSMS", "set" if num == 0:
                return ["+CSMS: 1,1,1"]
            case "+CNMI", "set" if len(args) <= 5 and all(a.isdigit() or not a for a in args):
                for i, value in enumerate(args):
                    s.cnmi[i] = int(value) if value else s.cnmi[i]
            case "+CPMS", ("read" | "set"):
                if any(self._unstr(a).upper() != "SM" for a in args):
                    raise _Error("CMS", 302)
                used = f"{len(self.storage)},{self.capacity}"
                return [f'+CPMS: "SM",{used},"SM",{used},"SM",{used}' if kind == "read"
                        else f"+CPMS: {used},{used},{used}"]
            case "+CMGS", "set":
                self._need_sim("CMS")
                if not 7 <= num <= 176:
                    raise _Error("CMS", 304)
                self._pdu_len = num
                return PROMPT
            case "+CMGR", "set":
                entry = self.storage.get(num)
                if entry is None:  # +CMS ERROR: 321 invalid memory index
                    raise _Error("CMS", 321)
                lines, entry[0] = [f"+CMGR: {entry[0]},,{_tpdu_length(entry[1])}", entry[1]], entry[0] or 1
                return lines
            case "+CMGD", "set":
                flag = int(args[1]) if len(args) > 1 and args[1].isdigit() else 0
                doomed = {0: set(), 1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 4: {0, 1, 2, 3}}.get(flag)
                index = num if flag == 0 else None
                if doomed is None or (flag == 0 and not 1 <= num <= self.capacity):
                    raise _Error("CMS", 302)
                self.storage = {i: e for i, e in self.storage.items() if i != index and e[0] not in doomed}
            case "+CMGL", ("exec" | "set") if num in (-1, 0, 1, 2, 3, 4):
                lines = []
                for index, entry in sorted(self.storage.items()):
                    if num in (-1, 4, entry[0]):
                        lines += [f"+CMGL: {index},{entry[0]},,{_tpdu_length(entry[1])}", entry[1]]
                        entry[0] = entry[0] or 1
                return lines
            case "+CHUP", "exec":
                self.call = "idle"
            case "+CFUN", "set" if num in (0, 1, 4) and args[1:] in ([], ["0"], ["1"]):
                s.cfun, self._reboot_after = num, args[1:] == ["1"]
            case _:
                raise _Error("CME", 50 if name in TESTS | KNOWN else 4)
        return []

    # --- helpers -------------------------------------------------------------------------------

    def _stat(self) -> int:
        return self.stat if self.settings.cfun == 1 and self.sim == "READY" else 0

    def _need_sim(self, family: str) -> None:
        if self.sim != "READY":
            raise _Error(family, {"CMS": 310, "CME": 10}[family] + (self.sim == "SIM PIN"))

    def _str(self, text: str) -> str:
        """A string parameter in the character set chosen with +CSCS (gammu picks HEX)."""
        codec = {"UCS2": "utf-16-be", "HEX": "latin-1"}.get(self.settings.cscs)
        return text.encode(codec).hex().upper() if codec else text

    def _unstr(self, text: str) -> str:
        codec = {"UCS2": "utf-16-be", "HEX": "latin-1"}.get(self.settings.cscs)
        with contextlib.suppress(ValueError):
            return bytes.fromhex(text).decode(codec) if codec and text else text
        return text

    def _set_stat(self, stat: int) -> None:
        changed, self.stat = stat != self.stat, stat
        if changed and self.settings.creg:
            self._urc(f"+CREG: {self._stat()}")

    def _finish_pdu(self) -> None:
        expected, text = self._pdu_len, self._buf.decode("ascii")
        self._pdu_len = None
        self._buf.clear()
        try:
            if self._stat() not in (1, 5):
                raise _Error("CMS", 331)
            if _tpdu_length(text) != expected:
                raise _Error("CMS", 304)
            submit = pdu.decode_submit(text)
        except (ValueError, IndexError, _Error) as exc:
            log.info("AT+CMGS rejected (%d hex digits; the PDU is in the DEBUG trace): %r", len(text), exc)
            error = exc if isinstance(exc, _Error) else _Error("CMS", 304)
            return self._respond([], f"+CMS ERROR: {error.code}" if self.settings.cmee else "ERROR")
        self._mr = (self._mr + 1) % 256
        self.sent.append(SentSms(self._mr, text, submit))
        self._respond([f"+CMGS: {self._mr}"], "OK")
        if submit.status_report_requested:
            mr, recipient = self._mr, submit.recipient
            self._after(self.report_delay, lambda: self._status_report(mr, recipient))

    def _status_report(self, mr: int, recipient: str) -> None:
        if self.settings.cnmi[3] == 1:  # +CNMI <ds>=1: route reports to the host as +CDS
            report = pdu.encode_status_report(mr, recipient, self.report_status, smsc=self.smsc)
            self._urc(f"+CDS: {_tpdu_length(report)}\r\n{report}")

    def _ring(self, number: str, times: int, interval: float) -> None:
        self.call, self._caller = "ringing", number

        def once() -> None:
            if self.call == "ringing" and self._caller == number:
                kind = 145 if number.startswith("+") else 129
                clip = [f'+CLIP: "{self._str(number)}",{kind},"",0,"",0'] if self.settings.clip else []
                self._urc("RING", *clip)

        for i in range(times):
            self._after(i * interval, once)

    def _receive(self, sender: str, text: str, store: bool) -> list[int]:
        indices = []
        for hex_pdu in pdu.encode_deliver_parts(sender, text, datetime.now(WIB).replace(microsecond=0),
                                                reference=next(self._ref) % 256, smsc=self.smsc):
            free = next((i for i in range(1, self.capacity + 1) if i not in self.storage), None)
            if store and free is not None:
                self.storage[free] = [0, hex_pdu]
                indices.append(free)
                if self.settings.cnmi[1] in (1, 2):
                    self._urc(f'+CMTI: "SM",{free}')
            else:
                self._urc(f"+CMT: ,{_tpdu_length(hex_pdu)}\r\n{hex_pdu}")
        return indices

    def _reboot(self) -> None:
        self._gen += 1
        self._booting, self._reboot_after, self.call, self._pdu_len, self._garble = True, False, "idle", None, 0
        self._buf.clear()
        self.settings = Settings()
        self._after(self.boot_delay, self._booted)

    def _booted(self) -> None:
        self._booting = False
        self._urc(*BOOT_URCS)

    def _unplug(self) -> None:
        self._gen += 1
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def _replug(self) -> None:
        if self._master is None:
            self._open_pty()
            self._reboot()


def _tpdu_length(hex_pdu: str) -> int:
    """TPDU octets of a PDU that starts with its SMSC address (what AT+CMGS/+CMGR count)."""
    octets = bytes.fromhex(hex_pdu)
    return len(octets) - 1 - octets[0]


def _args(text: str | None) -> list[str]:
    """Comma-separated parameters without their quotes ('' for an empty one)."""
    return [a.strip() for a in next(csv.reader([text], skipinitialspace=True))] if text else []
