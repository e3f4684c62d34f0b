"""Waiting for a server a test started in another process: one helper, so every test that
starts gunicorn or `siaga112 serve` waits, and fails, the same way."""

from __future__ import annotations

import subprocess
import time
import urllib.request


def wait_serving(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0, what: str = "server") -> int:
    """GET `url` until it answers; its HTTP status. Fails if `proc` exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{what} exited with {proc.returncode} before answering {url}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not answer {url} within {timeout:.0f} s") from None
            time.sleep(0.2)
