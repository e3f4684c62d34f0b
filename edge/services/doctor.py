"""`siaga112 doctor`: every check an IT officer would make on a node, each with what to fix.

Each check is a named result (OK / WARN / FAIL) with a one-line detail and, unless OK, a
one-line fix. The exit code of the command is the worst result: 0 all OK, 1 warnings
only, 2 at least one failure. A check that cannot run (a missing tool, a node not
enrolled) warns or passes with a note; it never crashes the others.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509

from edge.db import database_path, node_exists, url_path
from edge.services.health import DiskLimits

CERT_WARN_DAYS = 30
WAL_WARN_BYTES = 256 * 1024 * 1024
CLOCK_AHEAD_WARN = timedelta(minutes=5)
BROKER_TIMEOUT = 5.0
BROKER_ALERT_WAIT = 1.0  # how long to wait for the broker to refuse our certificate
BACKUP_WARN_AGE = timedelta(hours=48)


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def exit_code(self) -> int:
        return {"OK": 0, "WARN": 1, "FAIL": 2}[self.value]


@dataclass
class Result:
    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Result:
    return Result(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> Result:
    return Result(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Result:
    return Result(name, Status.FAIL, detail, fix)


def check_disk(data_dir: Path, limits: DiskLimits | None = None) -> Result:
    limits = limits or DiskLimits.from_env()
    free_mb = shutil.disk_usage(data_dir).free // (1024 * 1024)
    if free_mb < limits.fail_mb:
        return fail("disk", f"{free_mb} MB free in {data_dir}",
                    f"free space: remove old logs and backups, move backups to another disk (need {limits.fail_mb} MB)")
    if free_mb < limits.warn_mb:
        return warn("disk", f"{free_mb} MB free in {data_dir}",
                    f"free space before it runs out (warn below {limits.warn_mb} MB); check 'siaga112 backup --keep'")
    return ok("disk", f"{free_mb} MB free in {data_dir}")


def _timedatectl() -> str | None:
    """'yes' / 'no' from systemd's NTPSynchronized, or None when it cannot be asked."""
    if not shutil.which("timedatectl"):
        return None
    try:
        done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value in ("yes", "no") else None


def clock_ahead_of_us() -> timedelta | None:
    """How far the highest hybrid-logical-clock time this node has seen (its own or a peer's)
    is ahead of our wall clock; None without sync state. Large means our clock is behind."""
    from sync.models import SyncClock

    try:
        hlc = max((row.hlc for row in SyncClock.select()), default=0)
    except Exception:  # noqa: BLE001 - no sync tables: nothing to compare with
        return None
    if not hlc:
        return None
    seen = datetime.fromtimestamp((hlc >> 16) / 1000, UTC)
    return seen - datetime.now(UTC)


def check_clock(ntp: str | None = None, ahead: timedelta | None = None) -> Result:
    if ahead is not None and ahead > CLOCK_AHEAD_WARN:
        return warn("clock", f"this node's clock is {int(ahead.total_seconds())} s behind times already recorded",
                    "set the time (timedatectl set-ntp true, or date -s) and check the BIOS battery")
    if ntp == "yes":
        return ok("clock", "synchronised with NTP")
    if ntp == "no":
        return warn("clock", "not synchronised with NTP (SOP timers and certificate checks need the right time)",
                    "enable NTP: timedatectl set-ntp true (offline posko: set the time by hand after each outage)")
    return warn("clock", "cannot tell whether the clock is synchronised (no timedatectl / systemd)",
                "check the time with 'date -u' against a phone; on systemd run: timedatectl set-ntp true")


def _sync_config(data_dir: Path) -> dict | None:
    path = data_dir / "sync" / "sync.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def check_broker(data_dir: Path, timeout: float = BROKER_TIMEOUT, override: dict | None = None) -> Result:
    """TCP connect and TLS handshake with the node's own certificate, as the sync daemon does
    (`override`: siaga112.toml's [sync] broker_host / broker_port, which beat the bundle's)."""
    try:
        config = _sync_config(data_dir)
    except ValueError as exc:
        return fail("broker", f"sync/sync.json is not valid JSON: {exc}", "re-install the enrolment bundle")
    if config is None:
        return ok("broker", "not enrolled (standalone node, no sync)")
    broker = {**config["broker"], **(override or {})}
    host, port = broker["host"], int(broker["port"])
    sync_dir = data_dir / "sync"
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(sync_dir / "ca.crt"))
        context.load_cert_chain(str(sync_dir / "node.crt"), str(sync_dir / "node.key"))
    except (OSError, ssl.SSLError) as exc:
        return fail("broker", f"cannot load the node's certificates in {sync_dir}: {exc}",
                    "re-install the enrolment bundle ('siaga112 init --bundle')")
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                version = tls.version()
                refused = _refused_after_handshake(tls, BROKER_ALERT_WAIT)
    except ssl.SSLCertVerificationError as exc:
        return fail("broker", f"{host}:{port}: the broker's certificate is not trusted: {exc.verify_message}",
                    "the broker must use a certificate from this regency's CA issued for this host name")
    except ssl.SSLError as exc:
        return fail("broker", f"{host}:{port}: TLS handshake failed: {exc.reason or exc}",
                    "check the node certificate (not revoked, not expired) and the broker's TLS settings")
    except OSError as exc:
        return fail("broker", f"{host}:{port}: cannot connect: {exc}",
                    "check the network link, the broker (systemctl status mosquitto) and firewall port "
                    f"{port}; cases still work offline and sync once it is back")
    if refused is not None:
        return fail("broker", f"{host}:{port}: the broker refused this node's certificate ({refused})",
                    "check the node certificate (see the certificate checks; revoked?) and issue a new bundle")
    return ok("broker", f"{host}:{port} reachable, TLS handshake ok ({version})")


def _refused_after_handshake(tls: ssl.SSLSocket, wait: float = 1.0) -> str | None:
    """With TLS 1.3 the broker judges our certificate after the client's side of the handshake is
    done: wait briefly for its alert. Silence means it accepted us and waits for MQTT CONNECT."""
    tls.settimeout(wait)
    try:
        data = tls.recv(1)
    except TimeoutError:
        return None
    except ssl.SSLError as exc:
        return str(exc.reason or exc)
    except OSError as exc:
        return str(exc)
    return "connection closed" if not data else None


def _cert_result(name: str, path: Path, now: datetime) -> Result:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return fail(name, f"cannot read {path}: {exc}", "re-install the enrolment bundle")
    not_after, not_before = cert.not_valid_after_utc, cert.not_valid_before_utc
    left = not_after - now
    if now < not_before:
        return fail(name, f"{path.name} is not valid before {not_before:%Y-%m-%d} (clock wrong?)",
                    "fix the clock (see the clock check)")
    if left <= timedelta(0):
        return fail(name, f"{path.name} expired on {not_after:%Y-%m-%d}",
                    "issue a new bundle on central ('siaga112 pki issue') and install it" if name == "node cert"
                    else "renew the regency CA and re-issue every node's bundle (docs/pki.md)")
    if left < timedelta(days=CERT_WARN_DAYS):
        return warn(name, f"{path.name} expires in {left.days} days ({not_after:%Y-%m-%d})",
                    "renew it before it expires: 'siaga112 pki issue' on central, then install the new bundle")
    return ok(name, f"{path.name} valid until {not_after:%Y-%m-%d} ({left.days} days)")


def check_certificates(data_dir: Path, now: datetime | None = None) -> list[Result]:
    now = now or datetime.now(UTC)
    sync_dir = data_dir / "sync"
    if not (sync_dir / "sync.json").exists():
        return [ok("certificates", "not enrolled: no certificates to check")]
    results = [_cert_result("node cert", sync_dir / "node.crt", now), _cert_result("CA cert", sync_dir / "ca.crt", now)]
    if (data_dir / "pki" / "ca.crt").exists():  # central keeps the regency CA itself
        results.append(_cert_result("regency CA", data_dir / "pki" / "ca.crt", now))
    return results


def _device_path(spec: str | None) -> str | None:
    """'/dev/x@9600' -> '/dev/x'; a HOST:PORT TNC has no device path."""
    if not spec or not spec.startswith("/"):
        return None
    return spec.split("@", 1)[0]


def check_modem(state: dict | None, configured: str | None) -> Result:
    path = _device_path(configured)
    if path and not Path(path).exists():
        return fail("modem", f"{path} does not exist",
                    "plug the modem in and check the udev rule that names it (docs/modem.md)")
    if state is None:
        if configured:
            return warn("modem", f"{configured} configured but the bridge has written no modem state",
                        "start the bridge: systemctl start siaga112-bridge; see journalctl -u siaga112-bridge")
        return ok("modem", "no modem on this node")
    if not state.get("connected"):
        return fail("modem", "the bridge lost the modem's serial port",
                    "check the USB cable and power of the modem; the bridge reconnects by itself")
    if not state.get("sim_ready", True):
        return fail("modem", "SIM not ready", "insert the SIM card, check its PIN")
    if not state.get("registered"):
        return warn("modem", f"not registered on the network (status {state.get('reg_stat')})",
                    "check the SIM's credit/validity, the antenna and coverage")
    age = None if state.get("last_ok_at") is None else time.time() - float(state["last_ok_at"])
    if age is not None and age > 300:
        return warn("modem", f"no answer from the modem for {int(age)} s",
                    "is the bridge running? systemctl status siaga112-bridge")
    dbm = state.get("dbm")
    if dbm is not None and dbm < -105:
        return warn("modem", f"weak signal ({dbm} dBm)", "move the modem or fit an external antenna")
    return ok("modem", f"registered on {state.get('operator') or '?'}, {dbm} dBm")


def check_radio(state: dict | None, configured: str | None) -> Result:
    path = _device_path(configured)
    if path and not Path(path).exists():
        return fail("radio", f"{path} does not exist",
                    "plug the TNC in and check the udev rule that names it (docs/radio.md)")
    if state is None:
        if configured:
            return warn("radio", f"{configured} configured but the bridge has written no radio state",
                        "start the bridge with --radio (systemctl start siaga112-bridge)")
        return ok("radio", "no radio on this node")
    waiting = int(state.get("waiting") or 0)
    if not state.get("connected"):
        return fail("radio", f"TNC {state.get('tnc')} not connected ({waiting} messages waiting)",
                    "start Dire Wolf (systemctl status direwolf) or check the TNC's serial cable (docs/radio.md)")
    if waiting:
        return warn("radio", f"TNC connected; {waiting} messages awaiting an acknowledgement",
                    "check the radio, antenna and that the other station is listening")
    return ok("radio", f"TNC {state.get('tnc')} connected")


def check_database(data_dir: Path) -> list[Result]:
    """PRAGMA integrity_check on the whole file, and the size of its WAL."""
    from edge.services.backup import integrity_check

    if url_path(data_dir).exists():
        return [ok("database", "PostgreSQL (database_url): check it with pg_amcheck on the database server")]
    db = database_path(data_dir)
    problems = integrity_check(db)
    results = [fail("database", f"integrity_check: {problems[0]} ({len(problems)} problems)",
                    "stop the services and restore the newest good backup: 'siaga112 restore' (docs/operations.md)")
               if problems else ok("database", f"integrity_check ok ({db.stat().st_size // 1024} KiB)")]
    wal = Path(f"{db}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    if size > WAL_WARN_BYTES:
        results.append(warn("wal", f"WAL is {size // (1024 * 1024)} MB",
                            "a long-running reader blocks checkpoints: restart siaga112-web and siaga112-sync"))
    else:
        results.append(ok("wal", f"WAL is {size // 1024} KiB"))
    return results


def check_audit() -> Result:
    from edge.services.audit import verify

    checked, problems = verify()
    if problems:
        first = problems[0]
        return fail("audit", f"{len(problems)} broken links in the audit chain (first: node {first.node} "
                    f"seq {first.seq}: {first.reason})",
                    "the database was edited outside the app: keep a copy for investigation, run "
                    "'siaga112 audit verify' and restore a backup")
    return ok("audit", f"audit chain intact ({checked} events)")


def check_rejoin() -> Result | None:
    """A node restored from a backup that its peers have not all taken back yet; None otherwise."""
    from sync.rejoin import pending

    request = pending()
    if request is None:
        return None
    answered = ", ".join(request.get("answered") or []) or "none yet"
    return warn("rejoin", f"restored from a backup at {request.get('restored_at', '?')[:16]}; peers answered: "
                f"{answered}", "start siaga112-sync and check the broker; 'siaga112 sync status' shows the rejoin")


def check_backups(data_dir: Path, backup_dir: Path | None, now: datetime | None = None) -> Result:
    from edge.services.backup import default_backup_dir, list_backups

    if url_path(data_dir).exists():
        return ok("backup", "PostgreSQL: back up with pg_dump (not checked here)")
    folder = backup_dir or default_backup_dir(data_dir)
    found = [b for b in list_backups(folder) if b.complete]
    if not found:
        return warn("backup", f"no backup in {folder}",
                    "run 'siaga112 backup' and enable the timer: systemctl enable --now siaga112-backup.timer")
    age = (now or datetime.now(UTC)) - found[0].created_at
    if age > BACKUP_WARN_AGE:
        return warn("backup", f"newest backup is {age.days} days old ({found[0].path.name})",
                    "check the timer: systemctl status siaga112-backup.timer; journalctl -u siaga112-backup")
    return ok("backup", f"newest backup {found[0].path.name} ({int(age.total_seconds() // 3600)} h old)")


def run_checks(data_dir: Path, modem_path: str | None = None, radio_path: str | None = None,
               backup_dir: Path | None = None, broker_override: dict | None = None) -> list[Result]:
    """Every check on the node in `data_dir`; never raises for a broken node (a FAIL says it)."""
    from edge.db import open_database
    from sync.status import device_status

    data_dir = Path(data_dir)
    if not node_exists(data_dir):
        return [fail("node", f"no node in {data_dir}", "give the right --data-dir or run 'siaga112 init'")]
    results = [check_disk(data_dir)]
    db_results = check_database(data_dir)
    db_ok = all(r.status != Status.FAIL for r in db_results)
    ahead = modem = radio = rejoining = None
    audit: Result | None = None
    if db_ok:
        try:
            db = open_database(data_dir)
            with db.connection_context():
                ahead = clock_ahead_of_us()
                modem, radio = device_status("modem"), device_status("radio")
                audit = check_audit()
                rejoining = check_rejoin()
        except Exception as exc:  # noqa: BLE001 - report, do not crash the other checks
            audit = fail("audit", f"cannot read the database: {type(exc).__name__}: {exc}",
                         "see the database check; 'siaga112 restore' a backup if it is damaged")
    results.append(check_clock(_timedatectl(), ahead))
    results.append(check_broker(data_dir, override=broker_override))
    results += check_certificates(data_dir)
    results.append(check_modem(modem, modem_path))
    results.append(check_radio(radio, radio_path))
    results += db_results
    if audit is not None:
        results.append(audit)
    if rejoining is not None:
        results.append(rejoining)
    results.append(check_backups(data_dir, backup_dir))
    return results
