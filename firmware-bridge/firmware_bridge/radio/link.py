"""A reliable channel (retries, acks, duplicate suppression) over a KISS TNC (radio/tnc.py).

Why this exists: radio is the fallback when the network is gone, and AX.25 UI frames are
fire-and-forget: a frame can be lost to a collision or fading, or heard twice through a
digipeater. `ReliableChannel` turns that into "delivered once, or reported as failed":
each message carries an id, the receiver acknowledges every copy it hears but passes a
given (sender, id) up only once, and the sender retransmits with exponential back-off
until the ack comes or it gives up. The TNC link under it (tnc.py: KISS over TCP or a serial
port) is the thin I/O shell.

Envelope inside the AX.25 info field (ASCII header, payload bytes as they are):

    S1|<msgid>|<payload>     a message; msgid is 1-12 characters [0-9A-Z]
    A1|<msgid>               its acknowledgement
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from base64 import b32encode
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.radio import ax25
from firmware_bridge.radio.tnc import KissLink, LinkDown

log = logging.getLogger(__name__)

DATA_TAG = b"S1|"
ACK_TAG = b"A1|"
MAX_PAYLOAD = ax25.MAX_INFO - len(DATA_TAG) - 12 - 1
_MSGID = re.compile(rb"[0-9A-Z]{1,12}")


class EnvelopeError(ValueError):
    """An AX.25 info field that is not one of our S1/A1 envelopes."""


@dataclass(frozen=True)
class Envelope:
    """A parsed info field: kind "S" (message) or "A" (ack), its id and payload (empty for acks)."""

    kind: str
    msgid: str
    payload: bytes = b""


def pack_message(msgid: str, payload: bytes) -> bytes:
    """The info field of a message; ValueError if the id is bad or the payload too long."""
    raw = msgid.encode("ascii", "replace")
    if not _MSGID.fullmatch(raw):
        raise ValueError(f"message id must be 1-12 of [0-9A-Z], got {msgid!r}")
    info = DATA_TAG + raw + b"|" + bytes(payload)
    if len(info) > ax25.MAX_INFO:
        raise ValueError(f"payload of {len(payload)} bytes does not fit one frame ({ax25.MAX_INFO} info bytes)")
    return info


def pack_ack(msgid: str) -> bytes:
    raw = msgid.encode("ascii", "replace")
    if not _MSGID.fullmatch(raw):
        raise ValueError(f"message id must be 1-12 of [0-9A-Z], got {msgid!r}")
    return ACK_TAG + raw


def unpack(info: bytes) -> Envelope:
    """Parse an info field; EnvelopeError for anything that is not S1 or A1."""
    info = bytes(info)
    if info.startswith(DATA_TAG):
        msgid, sep, payload = info[len(DATA_TAG) :].partition(b"|")
        if sep and _MSGID.fullmatch(msgid):
            return Envelope("S", msgid.decode("ascii"), payload)
    elif info.startswith(ACK_TAG) and _MSGID.fullmatch(info[len(ACK_TAG) :]):
        return Envelope("A", info[len(ACK_TAG) :].decode("ascii"))
    raise EnvelopeError(f"not an S1/A1 envelope: {info[:24]!r}")


def new_msgid() -> str:
    """A random 8-character id (40 bits): unique across restarts, unlike a counter."""
    return b32encode(os.urandom(5)).decode("ascii")


@dataclass
class _Pending:
    dest: str
    info: bytes
    tries: int
    next_at: float
    delay: float
    done: threading.Event
    acked: bool = False


class ReliableChannel:
    """Messages over a link with ids, acks, retries and duplicate suppression.

    Takes over `link.on_frame`. Frames addressed to `my_call` are handled: a message is
    acknowledged every time it is heard (the earlier ack may have been lost) and passed to
    `on_message(source, payload)` only the first time (the last `remember` (source, id) pairs
    are kept); an ack completes the pending send. A message is sent at once, then again after
    `retry_initial` seconds, then `retry_factor` times longer each time, `max_tries` in all;
    then `on_failed(msgid, dest)` is called. Defaults suit 1200 baud through a real TNC,
    where a frame and its ack take about 3-5 s.
    """

    def __init__(self, link: KissLink, my_call: str, *,
                 on_message: Callable[[str, bytes], None] | None = None,
                 on_acked: Callable[[str, str], None] | None = None,
                 on_failed: Callable[[str, str], None] | None = None,
                 retry_initial: float = 8.0, retry_factor: float = 2.0, max_tries: int = 5,
                 remember: int = 1024) -> None:
        self.link, self.my_call = link, ax25.normalise_call(my_call)
        self.on_message, self.on_acked, self.on_failed = on_message, on_acked, on_failed
        self.retry_initial, self.retry_factor, self.max_tries = retry_initial, retry_factor, max_tries
        self.remember = remember
        self.transmissions = self.duplicates = self.ignored = 0
        self._pending: dict[str, _Pending] = {}
        self._outcome: OrderedDict[str, bool] = OrderedDict()  # finished sends: msgid -> acked
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        link.on_frame = self._on_frame

    def start(self) -> None:
        """Start the retry timer thread (the link is started separately)."""
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._retry_loop, name=f"radio-retry-{self.my_call}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def send(self, dest: str, payload: bytes, msgid: str | None = None) -> str:
        """Queue `payload` for `dest` and transmit it now; returns the message id."""
        msgid = msgid or new_msgid()
        info = pack_message(msgid, payload)
        dest = ax25.normalise_call(dest)
        with self._cond:
            self._pending[msgid] = _Pending(dest, info, 0, time.monotonic(), self.retry_initial, threading.Event())
            self._cond.notify_all()
        return msgid

    def wait_acked(self, msgid: str, timeout: float) -> bool:
        """True once the message is acknowledged (False on timeout or if it is unknown or failed)."""
        with self._cond:
            pending = self._pending.get(msgid)
            if pending is None:
                return self._outcome.get(msgid, False)
        return pending.done.wait(timeout) and pending.acked

    def pending(self) -> list[str]:
        with self._cond:
            return [m for m, p in self._pending.items() if not p.done.is_set()]

    def _transmit(self, dest: str, info: bytes) -> None:
        try:
            self.link.send(dest, info, source=self.my_call)
            self.transmissions += 1
        except LinkDown as exc:
            log.info("radio: %s (will retry)", exc)

    def _retry_loop(self) -> None:
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                due = [(m, p) for m, p in self._pending.items() if p.next_at <= now]
                for msgid, p in due:
                    if p.tries >= self.max_tries:
                        del self._pending[msgid]
                        log.warning("radio: %s to %s not acknowledged after %d tries", msgid, p.dest, p.tries)
                        if self.on_failed:
                            self._callback(self.on_failed, msgid, p.dest)
                        self._finish(msgid, p, acked=False)  # after the callback: waiters see its effect
                        continue
                    p.tries += 1
                    p.next_at, p.delay = now + p.delay, p.delay * self.retry_factor
                    self._transmit(p.dest, p.info)
                waits = [p.next_at - time.monotonic() for p in self._pending.values()]
                self._cond.wait(max(0.0, min(waits)) if waits else None)

    def _finish(self, msgid: str, pending: _Pending, acked: bool) -> None:
        """Record the outcome of a send (caller holds the lock) and wake its waiters."""
        self._outcome[msgid] = pending.acked = acked
        while len(self._outcome) > self.remember:
            self._outcome.popitem(last=False)
        pending.done.set()

    def _callback(self, fn: Callable[[str, str], None], *args: str) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("radio: callback failed")

    def _on_frame(self, frame: ax25.UiFrame) -> None:
        if frame.dest != self.my_call or frame.pid != ax25.PID_NO_L3:
            return
        try:
            env = unpack(frame.info)
        except EnvelopeError as exc:
            self.ignored += 1
            log.info("radio in from %s ignored: %s", frame.source, exc)
            return
        if env.kind == "A":
            with self._cond:
                pending = self._pending.get(env.msgid)
                if pending is None or pending.dest != frame.source:  # unknown, late, or from the wrong station
                    return
                del self._pending[env.msgid]
                self._finish(env.msgid, pending, acked=True)
            log.debug("radio: %s acknowledged by %s after %d tries", env.msgid, frame.source, pending.tries)
            if self.on_acked:
                self._callback(self.on_acked, env.msgid, frame.source)
            return
        self._transmit(frame.source, pack_ack(env.msgid))
        key = (frame.source, env.msgid)
        with self._cond:
            if key in self._seen:
                self.duplicates += 1
                self._seen.move_to_end(key)
                return
            self._seen[key] = None
            while len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        if self.on_message is not None:
            try:
                self.on_message(frame.source, env.payload)
            except Exception:
                log.exception("radio: on_message handler failed")
