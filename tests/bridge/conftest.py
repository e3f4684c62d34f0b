"""Fixtures for the bridge: the modem emulator on a real pty, and a `Modem` driving it.

`modem_emulator` is a started `ModemEmulator` (its `.port` is a symlink to the pty that
survives unplug/replug) with the whole scripting API. `modem` is a started `Modem` on it with
short timeouts and every callback recorded in `modem.seen` (a `Seen`); `make_modem(**settings)`
makes more. `wait_until(fn)` polls.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from firmware_bridge.modem.device import Modem, ModemState
from firmware_bridge.modem.emulator import ModemEmulator

TIMEOUT = 5.0


def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = "") -> object:
    """The first truthy value of predicate(), polled every 20 ms; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")


@dataclass
class Seen:
    """What the modem's callbacks were given, each in a queue; `fail_sms` makes on_sms raise n times."""

    calls: queue.Queue = field(default_factory=queue.Queue)
    sms: queue.Queue = field(default_factory=queue.Queue)
    reports: queue.Queue = field(default_factory=queue.Queue)
    states: list[ModemState] = field(default_factory=list)
    fail_sms: int = 0
    sms_attempts: int = 0

    def on_sms(self, deliver) -> None:
        self.sms_attempts += 1
        if self.fail_sms > 0:
            self.fail_sms -= 1
            raise RuntimeError("the incident app is down (test)")
        self.sms.put(deliver)


@pytest.fixture
def modem_emulator(tmp_path) -> Iterator[ModemEmulator]:
    emulator = ModemEmulator(tmp_path / "modem", report_delay=0.2, boot_delay=0.2)
    emulator.start()
    yield emulator
    emulator.stop()
    print("--- modem dialogue (end) ---\n" + emulator.transcript()[-8000:])  # shown when a test fails


@pytest.fixture
def make_modem(modem_emulator) -> Iterator[Callable[..., Modem]]:
    """make_modem(**settings): a started Modem on the emulator, callbacks recorded in `.seen`."""
    started: list[Modem] = []

    def make(**settings) -> Modem:
        options = {"timeout": 1.0, "send_timeout": 3.0, "poll_interval": 0.5, "backoff": (0.2, 1.0)} | settings
        device = Modem(modem_emulator.port, **options)
        device.seen = seen = Seen()
        device.on_call, device.on_sms = seen.calls.put, seen.on_sms
        device.on_status_report, device.on_state = seen.reports.put, seen.states.append
        device.start()
        started.append(device)
        assert device.wait_ready(TIMEOUT), "the modem did not initialise"
        return device

    yield make
    for device in started:
        device.stop()


@pytest.fixture
def modem(make_modem) -> Modem:
    return make_modem()
