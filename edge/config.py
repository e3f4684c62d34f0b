"""The node's configuration file, /etc/siaga112/siaga112.toml: schema, validation, env overrides.

Why it exists: an appliance's daemons (gunicorn, `sync run`, `bridge run`) start unattended
from systemd, so a wrong or missing value must stop them at once with a message that names
the key, what was expected and what was found, instead of failing somewhere later. One file
per node; every key is described in docs/config.md. Environment variables
`SIAGA112_<SECTION>_<KEY>` (e.g. SIAGA112_WEB_PORT=8200) override the file, which is how the
tests and a one-off run change a value without editing it.

The schema is plain dataclasses: each field's metadata holds its check and its one-line
documentation, so the file template, the validator and docs/config.md's test read one place.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path("/etc/siaga112/siaga112.toml")
ENV_PREFIX = "SIAGA112_"
NODE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")  # edge.logsetup.LogFormat
ROLES = ("posko", "agency", "central")


class ConfigError(Exception):
    """The configuration file is missing, unreadable, or has wrong or missing values."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def lines(self) -> list[str]:
        """One `error: FILE: [section] key: ...` line per problem, for the CLI."""
        return [f"error: {self.source}: {p}" for p in self.problems]


# --- checks: each returns None when the value is fine, else what was expected ----------------


def _node_id(v: str) -> str | None:
    return None if NODE_ID_RE.match(v) else "2-32 lower-case letters, digits or '-', e.g. posko-bengkalis"


def _role(v: str) -> str | None:
    return None if v in ROLES else "one of " + ", ".join(ROLES)


def _abs_path(v: str) -> str | None:
    return None if v.startswith("/") else "an absolute path, e.g. /var/lib/siaga112"


def _ip(v: str) -> str | None:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return "an IP address, e.g. 127.0.0.1 or the posko's LAN address"
    return None


def _port(v: int) -> str | None:
    return None if 0 < v < 65536 else "a TCP port 1-65535"


def _workers(v: int) -> str | None:
    return None if 1 <= v <= 16 else "1-16 worker processes"


def _threads(v: int) -> str | None:
    return None if 1 <= v <= 64 else "1-64 threads per worker"


def _host(v: str) -> str | None:
    if not v:
        return None
    try:
        ipaddress.ip_address(v)
        return None
    except ValueError:
        return None if HOST_RE.match(v) else "a host name or IP address, e.g. 10.20.0.1"


def _device(v: str) -> str | None:
    return None if not v or v.startswith("/dev/") else "a serial device path /dev/..., e.g. /dev/siaga-modem"


def _tnc(v: str) -> str | None:
    if not v:
        return None
    from firmware_bridge.radio.tnc import BadTncAddress, open_tnc

    try:
        open_tnc(v)  # parses only: nothing is opened before start()
    except BadTncAddress:
        return "HOST:PORT (KISS over TCP, e.g. 127.0.0.1:8001) or /dev/PATH[@BAUD] (e.g. /dev/siaga-tnc@9600)"
    return None


def _callsign(v: str) -> str | None:
    if not v:
        return None
    from firmware_bridge.radio import ax25

    try:
        ax25.normalise_call(v)
    except ax25.Ax25Error:
        return "an amateur-radio style callsign of up to 6 letters/digits with optional -SSID, e.g. POSKO1"
    return None


def _keep(v: int) -> str | None:
    return None if 1 <= v <= 1000 else "how many backups to keep, 1-1000"


def _level(v: str) -> str | None:
    return None if v.upper() in LOG_LEVELS else "one of " + ", ".join(LOG_LEVELS)


def _log_format(v: str) -> str | None:
    return None if v.lower() in LOG_FORMATS else "one of " + ", ".join(LOG_FORMATS)


def key(default: Any, doc: str, check: Callable[[Any], str | None] | None = None) -> Any:
    """A schema field: its default (MISSING = required), what it means, and its check."""
    meta = {"doc": doc, "check": check}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


# --- the schema: one dataclass per [section] ---------------------------------------------------


@dataclass(frozen=True)
class NodeConfig:
    """[node]: who this node is and where it keeps its data."""

    id: str = key(MISSING, "the node id, as in its enrolment bundle, e.g. posko-bengkalis", _node_id)
    role: str = key(MISSING, "posko, agency or central", _role)
    data_dir: str = key("/var/lib/siaga112", "the node's data folder (database, secret key, sync/)", _abs_path)


@dataclass(frozen=True)
class WebConfig:
    """[web]: the incident app under gunicorn (siaga112-web.service) or `siaga112 serve`."""

    bind: str = key("127.0.0.1", "address to listen on: 127.0.0.1, the LAN address, or 0.0.0.0", _ip)
    port: int = key(8112, "TCP port", _port)
    workers: int = key(2, "gunicorn worker processes (2 suit a 2-4 core mini-PC)", _workers)
    threads: int = key(4, "threads per gunicorn worker", _threads)


@dataclass(frozen=True)
class SyncConfig:
    """[sync]: the sync daemon (siaga112-sync.service); the broker comes from the bundle."""

    broker_host: str = key("", "broker host; empty: the one in the enrolment bundle", _host)
    broker_port: int = key(0, "broker TLS port; 0: the one in the enrolment bundle",
                           lambda v: None if v == 0 else _port(v))


@dataclass(frozen=True)
class BridgeConfig:
    """[bridge]: the bridge daemon (siaga112-bridge.service): GSM modem and radio TNC."""

    modem: str = key("", "GSM modem serial port, e.g. /dev/siaga-modem; empty: no modem", _device)
    radio: str = key("", "the radio's KISS TNC: HOST:PORT or /dev/PATH[@BAUD]; empty: no radio", _tnc)
    callsign: str = key("", "this station's callsign on the radio (required with radio)", _callsign)


@dataclass(frozen=True)
class BackupConfig:
    """[backup]: online backups of the node's database (scheduled by siaga112-backup.timer)."""

    dir: str = key("/var/backups/siaga112", "folder the backups are written to", _abs_path)
    keep: int = key(14, "how many backups are kept (older ones are deleted)", _keep)


@dataclass(frozen=True)
class LogConfig:
    """[log]: logging to journald / stdout."""

    level: str = key("INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL", _level)
    format: str = key("text", "text (journald: one priority-prefixed line a record) or json (one JSON object a line)",
                      _log_format)


@dataclass(frozen=True)
class Config:
    """A validated siaga112.toml; `source` says where it came from (for messages)."""

    node: NodeConfig
    web: WebConfig
    sync: SyncConfig
    bridge: BridgeConfig
    backup: BackupConfig
    log: LogConfig
    source: str = ""

    @property
    def data_dir(self) -> Path:
        return Path(self.node.data_dir)

    @property
    def bridge_enabled(self) -> bool:
        return bool(self.bridge.modem or self.bridge.radio)


SECTIONS: dict[str, type] = {
    "node": NodeConfig, "web": WebConfig, "sync": SyncConfig, "bridge": BridgeConfig,
    "backup": BackupConfig, "log": LogConfig,
}


def env_name(section: str, name: str) -> str:
    """The environment variable that overrides [section] name, e.g. SIAGA112_WEB_PORT."""
    return f"{ENV_PREFIX}{section.upper()}_{name.upper()}"


def _toml_type(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a table",
            list: "an array"}.get(type(value), type(value).__name__)


def _coerce(kind: type, value: object, from_env: bool) -> tuple[object, str | None]:
    """(value, None) when `value` has the field's type (env strings are converted), else (_, expected)."""
    if kind is int:
        if from_env and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value), None
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
        return value, "an integer"
    if isinstance(value, str):
        return value, None
    return value, "a string"


def validate(data: Mapping[str, Any], source: str = "siaga112.toml",
             environ: Mapping[str, str] | None = None) -> Config:
    """Check parsed TOML (plus env overrides) against the schema; ConfigError lists every problem."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    for section in data:
        if section not in SECTIONS:
            problems.append(f"[{section}]: unknown section (known: {', '.join(SECTIONS)})")
        elif not isinstance(data[section], dict):
            problems.append(f"{section}: expected a [{section}] table, found {_toml_type(data[section])}")
    built: dict[str, object] = {}
    for section, cls in SECTIONS.items():
        table = data.get(section)
        table = table if isinstance(table, dict) else {}
        known = {f.name: f for f in fields(cls)}
        for name in table:
            if name not in known:
                problems.append(f"[{section}] {name}: unknown key (known: {', '.join(known)})")
        values: dict[str, object] = {}
        for name, f in known.items():
            var = env_name(section, name)
            kind = f.type if isinstance(f.type, type) else {"int": int, "str": str}[f.type]
            if var in environ:
                raw, where, from_env = environ[var], f"[{section}] {name} (from ${var})", True
            elif name in table:
                raw, where, from_env = table[name], f"[{section}] {name}", False
            elif f.default is MISSING:
                problems.append(f"[{section}] {name}: missing; expected {f.metadata['doc']}")
                continue
            else:
                values[name] = f.default
                continue
            value, expected = _coerce(kind, raw, from_env)
            if expected is None:
                expected = f.metadata["check"](value) if f.metadata["check"] else None
                if expected is None:
                    values[name] = value
                    continue
            problems.append(f"{where}: expected {expected}, found {raw!r}")
        if len(values) == len(known):
            built[section] = cls(**values)
    if not problems:
        problems += _cross_checks(built)
    if problems:
        raise ConfigError(source, problems)
    return Config(**built, source=source)  # type: ignore[arg-type]


def _cross_checks(built: dict[str, Any]) -> list[str]:
    """Rules between keys."""
    problems = []
    bridge: BridgeConfig = built["bridge"]
    if bool(bridge.radio) != bool(bridge.callsign):
        problems.append("[bridge] radio and callsign go together: give both or neither "
                        f"(found radio={bridge.radio!r}, callsign={bridge.callsign!r})")
    if built["node"].role == "central" and (bridge.modem or bridge.radio):
        problems.append("[bridge]: central runs no bridge; leave modem and radio empty")
    return problems


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, parse and validate the file at `path`; ConfigError says what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found (create it with `siaga112 install` or see docs/config.md)"]) \
            from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return validate(data, str(path), environ)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(values: Mapping[str, Mapping[str, Any]]) -> str:
    """A commented siaga112.toml with every key: `values` first, the schema's defaults otherwise.

    The result is validated before it is returned, so `siaga112 install` never writes a file
    the daemons would refuse."""
    lines = ["# Siaga 112 node configuration, written by `siaga112 install`; every key is explained",
             "# in docs/config.md. SIAGA112_<SECTION>_<KEY> environment variables override it.",
             "# The daemons read it at start: restart siaga112.target after editing."]
    for section, cls in SECTIONS.items():
        lines += ["", f"[{section}]", f"# {cls.__doc__.split(': ', 1)[1]}"]
        for f in fields(cls):
            given = values.get(section, {})
            value = given[f.name] if f.name in given else f.default
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {_toml_value(value)}")
    text = "\n".join(lines) + "\n"
    validate(tomllib.loads(text), "generated siaga112.toml", environ={})
    return text


def all_keys() -> list[tuple[str, str, object, str]]:
    """(section, key, default or MISSING, doc) for every key, in file order (docs test)."""
    return [(s, f.name, f.default, f.metadata["doc"]) for s, cls in SECTIONS.items() for f in fields(cls)]


# --- for the daemons' `--config FILE` option -------------------------------------------------


def load_for_cli(path: str | Path) -> Config:
    """load_config for a command line: prints every problem as `error: ...` and exits 2; sets up logging
    ([log] level and format, the node id in JSON records)."""
    from edge import logsetup

    try:
        config = load_config(path)
    except ConfigError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        raise SystemExit(2) from None
    logsetup.configure(config.log.level, config.log.format, node=config.node.id)
    return config


def broker_override(config: Config) -> dict[str, object]:
    """The [sync] broker settings that replace the bundle's (only those that are set)."""
    out: dict[str, object] = {}
    if config.sync.broker_host:
        out["host"] = config.sync.broker_host
    if config.sync.broker_port:
        out["port"] = config.sync.broker_port
    return out
