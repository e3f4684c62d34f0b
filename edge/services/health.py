"""Is this node well? The checks behind /healthz and the figures behind /metrics.

Both read what the node already knows: its database (open cases and their SOP timers
through board.py and sop.py, the sync state the daemon writes, the modem and radio
state the bridge writes) and the disk its data folder is on. Nothing here writes
replicated data: the database's writability is checked by taking and releasing the
write lock.

Levels: "ok"; "degraded" (the node works but needs attention: sync offline, modem not
registered, disk getting full); "fail" (it cannot take a case: database unreachable or
read-only, disk nearly full).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from enum import StrEnum
from pathlib import Path

from edge.models import db_proxy
from edge.timeutil import utcnow

DISK_FAIL_ENV = "SIAGA112_DISK_FAIL_MB"
DISK_WARN_ENV = "SIAGA112_DISK_WARN_MB"
DISK_FAIL_MB = 200  # below this a posko cannot be trusted to record the next case
DISK_WARN_MB = 1024
MODEM_STALE_SECONDS = 300  # a modem state older than this: is the bridge still running?
PARKED_STUCK_SECONDS = 3600  # a received change still waiting for its parent after this long is stuck


class Level(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"ok": 0, "degraded": 1, "fail": 2}[self.value]


@dataclass
class Check:
    name: str
    level: Level
    detail: str
    data: dict = field(default_factory=dict)


@dataclass
class DiskLimits:
    fail_mb: int = DISK_FAIL_MB
    warn_mb: int = DISK_WARN_MB

    @classmethod
    def from_env(cls, fail_mb: int | None = None, warn_mb: int | None = None) -> DiskLimits:
        """Explicit values first, then SIAGA112_DISK_FAIL_MB / SIAGA112_DISK_WARN_MB, then the defaults."""
        return cls(int(fail_mb if fail_mb is not None else os.environ.get(DISK_FAIL_ENV, DISK_FAIL_MB)),
                   int(warn_mb if warn_mb is not None else os.environ.get(DISK_WARN_ENV, DISK_WARN_MB)))


def worst(levels: list[Level]) -> Level:
    return max(levels, key=lambda lv: lv.rank, default=Level.OK)


def check_database() -> Check:
    """Reachable (a SELECT) and writable (the write lock taken and released, nothing written)."""
    from edge.dialect import is_postgres
    from edge.models import NodeSetting

    db = db_proxy.obj
    started = time.monotonic()
    try:
        with db.connection_context():
            NodeSetting.select().limit(1).count()
            with db.atomic("IMMEDIATE"):
                pass
    except Exception as exc:  # noqa: BLE001 - any database error is the answer, not a crash
        return Check("database", Level.FAIL, f"{type(exc).__name__}: {exc}")
    kind = "postgresql" if is_postgres(db) else "sqlite"
    return Check("database", Level.OK, f"{kind} reachable and writable",
                 {"kind": kind, "seconds": round(time.monotonic() - started, 4)})


def check_disk(data_dir: Path, limits: DiskLimits) -> Check:
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError as exc:
        return Check("disk", Level.FAIL, f"cannot stat {data_dir}: {exc}")
    free_mb = free // (1024 * 1024)
    data = {"free_bytes": free, "fail_below_mb": limits.fail_mb, "warn_below_mb": limits.warn_mb}
    if free_mb < limits.fail_mb:
        return Check("disk", Level.FAIL, f"{free_mb} MB free in {data_dir} (needs {limits.fail_mb} MB)", data)
    if free_mb < limits.warn_mb:
        return Check("disk", Level.DEGRADED, f"{free_mb} MB free in {data_dir} (warn below {limits.warn_mb} MB)",
                     data)
    return Check("disk", Level.OK, f"{free_mb} MB free", data)


def _age_seconds(when) -> float | None:
    if when is None:
        return None
    if when.tzinfo is not None:  # stored times are naive UTC (edge/timeutil.py); compare like with like
        when = when.astimezone(UTC).replace(tzinfo=None)
    return max(0.0, (utcnow() - when).total_seconds())


def check_sync() -> Check:
    """Connected to the broker and how much waits to be sent; not enrolled is fine (standalone)."""
    from sync.status import node_status

    st = node_status()
    age = _age_seconds(st.last_contact)
    data = {"enabled": st.enabled, "connected": st.connected, "backlog": st.backlog,
            "last_contact_age_seconds": None if age is None else round(age), "rejoining": st.rejoining}
    if st.rejoining:  # restored from a backup: works, but central has not given back its lost work yet
        return Check("sync", Level.DEGRADED, "restored from a backup; waiting for central to take this node "
                     "back (siaga112 sync status)", data)
    data["parked"] = st.parked
    stuck = _age_seconds(st.parked_since)
    if st.reused or (stuck is not None and stuck > PARKED_STUCK_SECONDS):
        return Check("sync", Level.DEGRADED, f"{st.parked} received changes cannot be applied ({st.reused} reuse "
                     "another change's number); see siaga112 sync status", data)
    if not st.enabled:
        return Check("sync", Level.OK, "sync daemon has not run here (standalone node)", data)
    if not st.connected:
        return Check("sync", Level.DEGRADED, f"not connected to the broker; {st.backlog} changes waiting", data)
    return Check("sync", Level.OK, f"connected; {st.backlog} changes waiting", data)


def check_modem(state: dict | None) -> Check | None:
    """The GSM modem as the bridge last wrote it; None when no bridge with a modem runs here."""
    if state is None:
        return None
    age = _age_seconds_epoch(state.get("last_ok_at"))
    data = {k: state.get(k) for k in ("connected", "registered", "dbm", "operator")}
    data["last_ok_age_seconds"] = None if age is None else round(age)
    if not state.get("connected"):
        return Check("modem", Level.DEGRADED, "modem port gone (unplugged?)", data)
    if not state.get("registered"):
        return Check("modem", Level.DEGRADED, "modem not registered on the network", data)
    if age is not None and age > MODEM_STALE_SECONDS:
        return Check("modem", Level.DEGRADED, f"no answer from the modem for {round(age)} s (bridge stopped?)", data)
    return Check("modem", Level.OK, f"registered ({state.get('operator') or '?'}, {state.get('dbm')} dBm)", data)


def _age_seconds_epoch(epoch: float | None) -> float | None:
    return None if epoch is None else max(0.0, time.time() - float(epoch))


def check_radio(state: dict | None) -> Check | None:
    """The radio TNC link as the bridge last wrote it; None when no bridge with a radio runs here."""
    if state is None:
        return None
    data = {"connected": bool(state.get("connected")), "waiting": int(state.get("waiting") or 0),
            "tnc": state.get("tnc")}
    if not state.get("connected"):
        return Check("radio", Level.DEGRADED, f"TNC {state.get('tnc')} not connected", data)
    return Check("radio", Level.OK, f"TNC connected; {data['waiting']} messages awaiting ack", data)


def health(data_dir: Path, limits: DiskLimits) -> tuple[Level, list[Check]]:
    """Every check and the overall level (the worst of them)."""
    checks = [check_database(), check_disk(Path(data_dir), limits)]
    if checks[0].level != Level.FAIL:
        from sync.status import device_status

        try:
            with db_proxy.obj.connection_context():
                checks.append(check_sync())
                checks += [c for c in (check_modem(device_status("modem")), check_radio(device_status("radio")))
                           if c is not None]
        except Exception as exc:  # noqa: BLE001 - a half-broken database must still give an answer
            checks.append(Check("sync", Level.FAIL, f"{type(exc).__name__}: {exc}"))
    return worst([c.level for c in checks]), checks


# --- metrics -------------------------------------------------------------------------


@dataclass
class Figures:
    """What /metrics reports from the database, read in one connection."""

    database_up: bool = False
    open_cases: int = 0
    open_cases_breached: int = 0
    breaches_by_step: dict[str, int] = field(default_factory=dict)
    sync_enabled: bool = False
    sync_connected: bool = False
    backlog_by_peer: dict[str, int] = field(default_factory=dict)
    last_contact_age: float | None = None
    modem: dict | None = None
    radio: dict | None = None


def figures() -> Figures:
    """Open cases and SOP breaches (a running step past its standard: a red timer on the board),
    sync and device state. A database that cannot be read gives `database_up` False and zeros."""
    from edge.services.board import open_cases
    from edge.services.sop import TimerState
    from sync.status import device_status, node_status

    out = Figures()
    try:
        with db_proxy.obj.connection_context():
            rows = open_cases()
            breaches: Counter[str] = Counter()
            for row in rows:
                late = [t.key for t in row.timers if t.state == TimerState.RED]
                breaches.update(late)
                out.open_cases_breached += bool(late)
            out.open_cases = len(rows)
            out.breaches_by_step = dict(breaches)
            st = node_status()
            out.sync_enabled, out.sync_connected = st.enabled, st.connected
            out.backlog_by_peer = {p.node: p.backlog for p in st.peers}
            out.last_contact_age = _age_seconds(st.last_contact)
            out.modem, out.radio = device_status("modem"), device_status("radio")
            out.database_up = True
    except Exception:  # noqa: BLE001 - metrics must still answer (database_up 0) when the database is broken
        return Figures()
    return out


def metric_families(data_dir: Path) -> Iterator:
    """prometheus_client metric families for the node's state, computed at scrape time."""
    from prometheus_client.core import GaugeMetricFamily

    def gauge(name: str, doc: str, value: float | None, labels: dict | None = None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
        if value is not None:
            family.add_metric(list((labels or {}).values()), value)
        return family

    f = figures()
    yield gauge("siaga112_database_up", "1 when the node's database answered the scrape's queries.",
                int(f.database_up))
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        free = None
    yield gauge("siaga112_disk_free_bytes", "Free bytes on the file system of the data folder.", free)
    yield gauge("siaga112_open_cases", "Open cases (recorded, dispatched or being handled).", f.open_cases)
    yield gauge("siaga112_open_cases_breached", "Open cases with at least one SOP step running past its standard.",
                f.open_cases_breached)
    steps = GaugeMetricFamily("siaga112_sop_breaches", "Running SOP steps past their standard (red timers), by step.",
                              labels=["step"])
    for step, count in sorted(f.breaches_by_step.items()):
        steps.add_metric([step], count)
    yield steps
    yield gauge("siaga112_sync_enabled", "1 when the sync daemon has run on this node.", int(f.sync_enabled))
    yield gauge("siaga112_sync_connected", "1 while the sync daemon is connected to the broker.",
                int(f.sync_connected))
    backlog = GaugeMetricFamily("siaga112_sync_backlog", "Changes not yet acknowledged by a peer.", labels=["peer"])
    for peer, count in sorted(f.backlog_by_peer.items()):
        backlog.add_metric([peer], count)
    yield backlog
    yield gauge("siaga112_sync_last_contact_age_seconds", "Seconds since the last message from or ack by a peer.",
                f.last_contact_age)
    modem, radio = f.modem, f.radio
    yield gauge("siaga112_modem_up", "1 while the bridge's GSM modem port answers (absent without a modem).",
                None if modem is None else int(bool(modem.get("connected"))))
    yield gauge("siaga112_modem_registered", "1 while the modem is registered on the mobile network.",
                None if modem is None else int(bool(modem.get("registered"))))
    yield gauge("siaga112_modem_signal_dbm", "Modem signal strength in dBm (from AT+CSQ).",
                None if modem is None or modem.get("dbm") is None else modem["dbm"])
    yield gauge("siaga112_radio_tnc_connected", "1 while the bridge is connected to its radio TNC.",
                None if radio is None else int(bool(radio.get("connected"))))
    yield gauge("siaga112_radio_awaiting_ack", "Radio messages sent and still waiting for an acknowledgement.",
                None if radio is None else int(radio.get("waiting") or 0))
