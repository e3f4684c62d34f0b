"""The radio's TNC as the bridge reaches it: KISS over TCP (Dire Wolf's KISSPORT) or over a
serial port (a hardware KISS TNC such as a NinoTNC or Mobilinkd, or a radio modem in KISS mode).

Thin I/O shells around the pure codecs in kiss.py and ax25.py: one reader thread that opens the
TNC, reopens it after a drop or an unplugged cable with back-off (`backoff_min` doubling up to
`backoff_max` seconds), decodes frames and calls `on_frame(UiFrame)` for every well-formed UI
frame (on the reader thread: keep it short). Frames that are not valid AX.25 UI frames are
logged and counted in `bad_frames`; KISS corruption is counted in `kiss_errors`; every frame in
and out is logged at DEBUG. `open_tnc("127.0.0.1:8001")` or `open_tnc("/dev/siaga-tnc@9600")`
picks the transport from the address.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from firmware_bridge.radio import ax25, kiss

log = logging.getLogger("firmware_bridge.radio.link")

DEFAULT_BAUD = 9600
_SERIAL_ADDRESS = re.compile(r"(?P<device>/[^@]+)(?:@(?P<baud>\d{3,7}))?")
_TCP_ADDRESS = re.compile(r"(?P<host>[^:\s]+):(?P<port>\d{1,5})")


class LinkDown(ConnectionError):
    """The TNC is not connected, so the frame was not handed to it."""


class BadTncAddress(ValueError):
    """A TNC address that is neither HOST:PORT nor /dev/PATH[@BAUD]."""


class KissLink:
    """The transport-independent part: reader thread, reconnects, decoding, sending frames.
    The constructor only stores settings; `start()` runs the reader thread."""

    def __init__(self, *, my_call: str | None = None, kiss_port: int = 0,
                 on_frame: Callable[[ax25.UiFrame], None] | None = None,
                 backoff_min: float = 0.5, backoff_max: float = 30.0) -> None:
        self.my_call, self.kiss_port, self.on_frame = my_call, kiss_port, on_frame
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.frames_in = self.frames_out = self.bad_frames = self.connects = 0
        self._decoder = kiss.Decoder()
        self._handle: Any = None
        self._send_lock = threading.RLock()  # send() closes the transport under it on a write error
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    # --- transport hooks ---------------------------------------------------------------

    @property
    def where(self) -> str:
        raise NotImplementedError

    def _open(self) -> Any:
        """Open the transport; OSError if the TNC cannot be reached."""
        raise NotImplementedError

    def _recv(self, handle: Any) -> bytes | None:
        """Bytes from the TNC, None after a quiet timeout; b"" or OSError when the link dropped."""
        raise NotImplementedError

    def _write(self, handle: Any, data: bytes) -> None:
        raise NotImplementedError

    def _shutdown(self, handle: Any) -> None:
        raise NotImplementedError

    # --- the link ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the TNC is open (for the status header)."""
        return self._connected.is_set()

    @property
    def kiss_errors(self) -> int:
        return self._decoder.errors

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"kiss-{self.where}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def send(self, dest: str, info: bytes, *, source: str | None = None, via: tuple[str, ...] = ()) -> None:
        """Hand one UI frame to the TNC; LinkDown if not connected, Ax25Error for bad fields."""
        source = source or self.my_call
        if not source:
            raise ValueError("no source callsign: pass source= or construct with my_call=")
        frame = ax25.encode_ui(dest, source, info, via)
        data = kiss.encode(frame, self.kiss_port)
        with self._send_lock:
            handle = self._handle
            if handle is None:
                raise LinkDown(f"TNC {self.where} not connected")
            try:
                self._write(handle, data)
            except OSError as exc:
                self._close()
                raise LinkDown(f"TNC {self.where}: {exc}") from exc
        self.frames_out += 1
        log.debug("radio out %s>%s %d bytes %r", ax25.normalise_call(source), ax25.normalise_call(dest),
                  len(info), bytes(info))

    def _close(self) -> None:
        with self._send_lock:
            handle, self._handle = self._handle, None
            self._connected.clear()
        if handle is not None:
            try:
                self._shutdown(handle)
            except OSError:
                pass

    def _run(self) -> None:
        delay = self.backoff_min
        while not self._stop.is_set():
            try:
                handle = self._open()
            except OSError as exc:
                log.info("radio: TNC %s unreachable (%s); retry in %.1fs", self.where, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            with self._send_lock:
                self._handle = handle
                self._connected.set()
            self._decoder.reset()
            self.connects += 1
            log.info("radio: TNC %s connected", self.where)
            up_since = time.monotonic()
            self._read(handle)
            self._close()
            if self._stop.is_set():
                break
            if time.monotonic() - up_since > self.backoff_max:
                delay = self.backoff_min  # a connection that lasted resets the back-off
            log.info("radio: TNC %s connection lost; reconnect in %.1fs", self.where, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max)

    def _read(self, handle: Any) -> None:
        while not self._stop.is_set():
            try:
                data = self._recv(handle)
            except OSError:
                return
            if data is None:
                continue
            if not data:
                return
            errors = self._decoder.errors
            for frame in self._decoder.feed(data):
                self._handle_frame(frame)
            if self._decoder.errors != errors:
                log.warning("radio in: %d corrupt KISS frame(s) dropped", self._decoder.errors - errors)

    def _handle_frame(self, frame: kiss.KissFrame) -> None:
        if frame.command != kiss.CMD_DATA:
            log.debug("radio in: KISS command %d ignored", frame.command)
            return
        try:
            ui = ax25.decode(frame.payload)
        except ax25.Ax25Error as exc:
            self.bad_frames += 1
            log.warning("radio in: not a UI frame (%s): %r", exc, frame.payload[:32])
            return
        self.frames_in += 1
        log.debug("radio in %s>%s%s %d bytes %r", ui.source, ui.dest, "".join(f",{v}" for v in ui.via),
                  len(ui.info), ui.info)
        if self.on_frame is not None:
            try:
                self.on_frame(ui)
            except Exception:  # a bug upstream must not kill the reader thread
                log.exception("radio: on_frame handler failed")


class KissTcpLink(KissLink):
    """A KISS TNC reached over TCP (Dire Wolf's KISSPORT, or a serial TNC behind a network bridge)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0, **settings: Any) -> None:
        super().__init__(**settings)
        self.host, self.port, self.connect_timeout = host, port, connect_timeout

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.settimeout(0.5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _recv(self, handle: socket.socket) -> bytes | None:
        try:
            return handle.recv(4096)
        except TimeoutError:
            return None

    def _write(self, handle: socket.socket, data: bytes) -> None:
        handle.sendall(data)

    def _shutdown(self, handle: socket.socket) -> None:
        try:
            handle.shutdown(socket.SHUT_RDWR)
        finally:
            handle.close()


class KissSerialLink(KissLink):
    """A KISS TNC on a serial port (pyserial): 8N1 at `baud`; an unplugged USB cable is a dropped
    link, reopened with back-off when the device comes back (a udev name keeps the path stable)."""

    def __init__(self, device: str, baud: int = DEFAULT_BAUD, **settings: Any) -> None:
        super().__init__(**settings)
        self.device, self.baud = device, baud

    @property
    def where(self) -> str:
        return f"{self.device}@{self.baud}"

    def _open(self) -> Any:
        import serial

        return serial.Serial(self.device, self.baud, timeout=0.5, write_timeout=5)

    def _recv(self, handle: Any) -> bytes | None:
        try:
            data = handle.read(max(1, handle.in_waiting))
        except (TypeError, AttributeError) as exc:  # closed by stop() on another thread mid-read
            raise OSError(f"{self.where} closed") from exc
        return data or None  # a serial read returns b"" on a quiet timeout, not on a drop

    def _write(self, handle: Any, data: bytes) -> None:
        handle.write(data)
        handle.flush()

    def _shutdown(self, handle: Any) -> None:
        handle.close()


def open_tnc(address: str, **settings: Any) -> KissLink:
    """A (not yet started) link for `address`: HOST:PORT for KISS over TCP, /dev/PATH[@BAUD] for a
    serial TNC; BadTncAddress otherwise."""
    address = (address or "").strip()
    serial_match = _SERIAL_ADDRESS.fullmatch(address)
    if serial_match:
        return KissSerialLink(serial_match["device"], int(serial_match["baud"] or DEFAULT_BAUD), **settings)
    tcp_match = _TCP_ADDRESS.fullmatch(address)
    if tcp_match and 0 < int(tcp_match["port"]) < 65536:
        return KissTcpLink(tcp_match["host"], int(tcp_match["port"]), **settings)
    raise BadTncAddress(f"TNC address must be HOST:PORT (KISS over TCP) or /dev/PATH[@BAUD] (serial), "
                        f"got {address!r}")
