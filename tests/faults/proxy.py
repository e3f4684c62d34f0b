"""A fault-injecting TCP proxy on loopback, one per node, between the node's sync daemon and the broker.

Why it exists: the fault drills need "the link between this node and the broker is down / slow /
silent / cut mid-stream" without network namespaces. Each node's sync bundle points at its own
proxy port (tests/faults/drill.py patches sync.json), so one node can lose its link while the
others keep theirs. TLS passes through untouched (the proxy only copies bytes).

Modes (`set_mode`): PASS copies bytes; DELAY holds each chunk for `delay` seconds before
forwarding it (order kept); BLACKHOLE keeps connections open but stops reading (bytes wait in
the kernel buffers, as behind a dead radio link, and flow again on PASS); DOWN closes every
connection and refuses new ones (accepted, then closed at once). `cut()` resets every current
connection once, in the middle of whatever is in flight, and goes on passing.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import itertools
import select
import socket
import threading
import time


class Mode(enum.StrEnum):
    """What the proxy does with the bytes of its connections."""

    PASS = "pass"
    DELAY = "delay"
    BLACKHOLE = "blackhole"
    DOWN = "down"


class ProxyError(RuntimeError):
    """The proxy could not start (port in use, upstream unset)."""


class _Pipe:
    """One client connection and its upstream connection, with a pump thread per direction."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client, self.upstream = client, upstream
        self.closed = threading.Event()
        self.threads = [threading.Thread(target=self._pump, args=(a, b), daemon=True, name=f"proxy-{proxy.name}")
                        for a, b in ((client, upstream), (upstream, client))]
        for thread in self.threads:
            thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        """Copy src to dst, honouring the mode; a delayed chunk goes out in order after its delay."""
        queue: list[tuple[float, int, bytes]] = []
        counter = itertools.count()
        try:
            while not self.closed.is_set():
                mode, delay = self.proxy.mode, self.proxy.delay
                while queue and queue[0][0] <= time.monotonic():
                    dst.sendall(heapq.heappop(queue)[2])
                if mode is Mode.BLACKHOLE:
                    time.sleep(0.05)
                    continue
                if not select.select([src], [], [], 0.05)[0] or self.proxy.mode is Mode.BLACKHOLE:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                self.proxy.bytes += len(data)
                if mode is Mode.DELAY or queue:
                    heapq.heappush(queue, (time.monotonic() + (delay if mode is Mode.DELAY else 0), next(counter),
                                           data))
                else:
                    dst.sendall(data)
            while queue and not self.closed.is_set():  # flush what was delayed
                due, _n, data = heapq.heappop(queue)
                time.sleep(max(0.0, due - time.monotonic()))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self.close()

    def close(self, reset: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:  # RST instead of FIN: the peer sees "connection reset" mid-stream
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()
        self.proxy._forget(self)


class FaultProxy:
    """Listens on 127.0.0.1:`port` and forwards to `upstream` (host, port) under the current mode."""

    def __init__(self, name: str, upstream: tuple[str, int], port: int = 0, host: str = "127.0.0.1") -> None:
        self.name = name
        self.upstream = upstream
        self.host = host
        self.mode = Mode.PASS
        self.delay = 0.0
        self.bytes = 0
        self.connections = 0
        self._pipes: set[_Pipe] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            raise ProxyError(f"proxy {name}: cannot listen on {host}:{port}: {exc}") from exc
        self.port = self._listener.getsockname()[1]
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"proxy-{name}-accept")
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode is Mode.DOWN:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:  # the broker is down: the client sees its connection closed, as without a proxy
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self.connections += 1
            with self._lock:
                self._pipes.add(_Pipe(self, client, upstream))

    def _forget(self, pipe: _Pipe) -> None:
        with self._lock:
            self._pipes.discard(pipe)

    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        """Switch mode; DOWN also closes every open connection."""
        self.mode, self.delay = mode, delay
        if mode is Mode.DOWN:
            self.cut()

    def cut(self) -> int:
        """Reset every open connection now; returns how many were cut."""
        with self._lock:
            pipes = list(self._pipes)
        for pipe in pipes:
            pipe.close(reset=True)
        return len(pipes)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pipes)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()
        self._thread.join(2)
