"""A shared channel on loopback that stands in for the air when there is no radio.

Every KISS frame one client sends reaches every other client, as a transmission reaches every
radio on the frequency: bridges connect to it exactly as they connect to a KISS-over-TCP TNC
(Dire Wolf's port 8001). `make demo` joins posko-a and the Damkar station through it, and
`siaga112 sim air` runs one for trying things by hand. Frames are passed on whole and
unchanged; there is no loss, delay or collision (tests/bridge has a fault-injecting relay and
the real two-Dire-Wolf test for those).
"""

from __future__ import annotations

import logging
import socket
import threading

from firmware_bridge.radio.kiss import FEND

log = logging.getLogger("siaga112.bridge.air")


class SimulatedAir:
    """`SimulatedAir(port)` does nothing until `start()`; `stop()` closes every connection."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._server: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.frames = 0

    def start(self) -> None:
        self._server = socket.create_server((self.host, self.port))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, name="air-accept", daemon=True).start()
        log.info("simulated air listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        self._closed.set()
        if self._server is not None:
            self._server.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for conn in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, peer = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(conn)
            log.info("station connected to the air from %s:%d", *peer[:2])
            threading.Thread(target=self._relay, args=(conn,), name="air-relay", daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        buf = bytearray()
        try:
            while data := conn.recv(4096):
                buf += data
                end = buf.rfind(bytes((FEND,)))
                if end < 0:
                    continue
                chunk, buf = bytes(buf[:end + 1]), buf[end + 1:]  # whole frames only, never half of one
                self.frames += chunk.count(bytes((FEND,))) // 2
                with self._lock:
                    others = [c for c in self._clients if c is not conn]
                for other in others:
                    try:
                        other.sendall(chunk)
                    except OSError:
                        pass
        except OSError:
            pass
        finally:
            with self._lock:
                if conn in self._clients:
                    self._clients.remove(conn)
            conn.close()
