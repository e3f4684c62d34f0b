"""The fault proxy between a node and the broker: each mode does to the bytes what it says."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from tests.faults.proxy import FaultProxy, Mode


@pytest.fixture
def echo():
    """A TCP echo server on loopback; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture
def proxy(echo):
    p = FaultProxy("test", ("127.0.0.1", echo))
    yield p
    p.close()


def roundtrip(sock: socket.socket, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    sock.settimeout(timeout)
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def test_pass_and_delay(proxy):
    with connect(proxy) as sock:
        assert roundtrip(sock) == b"ping"
        proxy.set_mode(Mode.DELAY, 0.3)
        started = time.monotonic()
        assert roundtrip(sock, b"x" * 200_000) == b"x" * 200_000  # order and content kept
        assert time.monotonic() - started >= 0.6  # both directions delayed


def test_blackhole_holds_bytes_until_healed(proxy):
    with connect(proxy) as sock:
        proxy.set_mode(Mode.BLACKHOLE)
        sock.sendall(b"held")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.set_mode(Mode.PASS)
        sock.settimeout(2)
        assert sock.recv(10) == b"held"


def closed(sock: socket.socket) -> bool:
    """The other end closed (FIN) or reset (RST) the connection."""
    sock.settimeout(2)
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def test_down_closes_and_refuses_and_cut_resets(proxy):
    sock = connect(proxy)
    assert roundtrip(sock) == b"ping"
    proxy.set_mode(Mode.DOWN)
    assert closed(sock)
    sock.close()
    with connect(proxy) as again:  # accepted, then closed at once
        assert closed(again)
    proxy.set_mode(Mode.PASS)
    with connect(proxy) as sock:
        assert roundtrip(sock) == b"ping"
        assert proxy.cut() == 1
        assert closed(sock)
