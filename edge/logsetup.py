"""Logging for every Siaga 112 process, set up in one place: `configure(level, fmt)`.

Why it exists: the daemons (gunicorn `edge.wsgi:app`, `siaga112 serve`, `sync run`, `bridge run`,
`sim`, `demo`) and the CLI all log, and an operator reads the result with `journalctl`. One
module decides where records go and how they look, so every process reads the same:

- under systemd (stdout or stderr is the journal, `$JOURNAL_STREAM`): one line a record on that
  stream, no time (journald stamps it), each line prefixed with its syslog priority `<N>`
  (sd-daemon(3)), so `journalctl -p warning` shows warnings and worse;
- elsewhere: `TIME LEVEL LOGGER: MESSAGE` on stderr (stdout stays for the commands' output);
- `SIAGA112_LOG_FORMAT=json` (or [log] format = "json"): one JSON object a line with `time`
  (UTC, ISO 8601), `level`, `logger`, `message`, `node` and the record's extra fields (still
  `<N>`-prefixed under journald; journald strips the prefix).

Level and format come from the node's config ([log] level / format, see docs/config.md) or
from SIAGA112_LOG_LEVEL / SIAGA112_LOG_FORMAT. Callers' personal data stays out of records at
INFO and above (docs/logging.md); `masked_number` and `redacted` are the helpers log lines use
for that, both built on edge.services.privacy's masking.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

ENV_LEVEL = "SIAGA112_LOG_LEVEL"
ENV_FORMAT = "SIAGA112_LOG_FORMAT"
ENV_NODE = "SIAGA112_NODE_ID"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Records from these loggers carry request paths (werkzeug's access lines, gunicorn's): numbers masked.
PATH_LOGGERS = ("werkzeug", "gunicorn")


class LogFormat(StrEnum):
    TEXT = "text"  # human text; under journald priority-prefixed and without time
    JSON = "json"  # one JSON object a line


class BadLogSetting(ValueError):
    """A log level or format that does not exist (from the config or the environment)."""


# sd-daemon(3): SD_CRIT <2>, SD_ERR <3>, SD_WARNING <4>, SD_INFO <6>, SD_DEBUG <7>.
def syslog_priority(levelno: int) -> int:
    """The syslog priority of a Python log level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


_node_id: str | None = None
# The attributes every LogRecord has: anything else on a record is an `extra=` field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def set_node_id(node_id: str | None) -> None:
    """The node id JSON records carry (set when the process knows which node it serves)."""
    global _node_id
    _node_id = node_id or None


def node_id() -> str | None:
    return _node_id or os.environ.get(ENV_NODE) or None


# --- personal data in log lines -------------------------------------------------------------


def masked_number(number: str | None) -> str:
    """A caller's (or any) phone number fit for a log line at INFO: "0812****122" (privacy.mask_number)."""
    from edge.services.privacy import mask_number

    return mask_number(number or "")


def redacted(text: str | None) -> str:
    """Text with every phone number in it masked like masked_number (for raw modem lines, paths)."""
    from edge.services.privacy import CallerView, Scrubber

    return Scrubber(CallerView.MASKED).text(text or "")


# --- formatters -----------------------------------------------------------------------------


def _prefixed(text: str, levelno: int) -> str:
    """Every line with the priority prefix: journald makes each line an entry of its own, so a
    traceback keeps the priority of its record."""
    prefix = f"<{syslog_priority(levelno)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


class JournalFormatter(logging.Formatter):
    """`<N>LEVEL logger: message`, no time: for stdout under systemd."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return _prefixed(super().format(record), record.levelno)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, node, extra fields, exception."""

    def __init__(self, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "node": node_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(doc, ensure_ascii=False, default=str)
        return f"<{syslog_priority(record.levelno)}>{line}" if self.journal else line


class _PathFilter(logging.Filter):
    """Masks phone numbers in access lines (a URL may hold one: /api/callers/0812…)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in PATH_LOGGERS and record.levelno >= logging.INFO:
            record.msg, record.args = redacted(record.getMessage()), None
        return True


# --- setup ----------------------------------------------------------------------------------


def under_journald(stream: IO[str]) -> bool:
    """True when `stream` is the journal's socket: $JOURNAL_STREAM names its device:inode."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def resolve_level(level: str | int | None) -> int:
    """`level` (a name, any case, or a number), else $SIAGA112_LOG_LEVEL, else INFO."""
    if isinstance(level, int):
        return level
    name = (level or os.environ.get(ENV_LEVEL) or "INFO").strip().upper()
    if name not in LEVELS:
        raise BadLogSetting(f"log level {name!r}: expected one of {', '.join(LEVELS)}")
    return logging.getLevelName(name)


def resolve_format(fmt: str | None) -> LogFormat:
    """`fmt`, else $SIAGA112_LOG_FORMAT, else text."""
    name = (fmt or os.environ.get(ENV_FORMAT) or LogFormat.TEXT.value).strip().lower()
    try:
        return LogFormat(name)
    except ValueError:
        raise BadLogSetting(f"log format {name!r}: expected text or json") from None


def configure(level: str | int | None = None, fmt: str | None = None, node: str | None = None,
              stream: IO[str] | None = None, force: bool = False) -> logging.Handler | None:
    """Send every record to one handler on the root logger, replacing the one a previous call
    installed (so an entry point may call it again once it has read the node's config).

    `stream` None: stdout under systemd (or stderr when only that is the journal), else stderr.
    Like logging.basicConfig, a root logger that already has someone else's handler (a test
    harness's) is left as it is, unless `force` or a `stream` is given; returns the handler
    installed, if any. Raises BadLogSetting for an unknown level or format."""
    levelno, chosen = resolve_level(level), resolve_format(fmt)
    if node:
        set_node_id(node)
    root = logging.getLogger()
    if not force and stream is None and any(not getattr(h, "_siaga112", False) for h in root.handlers):
        return None
    root.setLevel(levelno)
    journal = False
    if stream is None:
        stream = sys.stderr
        for candidate in (sys.stdout, sys.stderr):
            if under_journald(candidate):
                stream, journal = candidate, True
                break
    handler = logging.StreamHandler(stream)
    if chosen == LogFormat.JSON:
        handler.setFormatter(JsonFormatter(journal))
    elif journal:
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_PathFilter())
    handler._siaga112 = True  # type: ignore[attr-defined]
    for old in [h for h in root.handlers if getattr(h, "_siaga112", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    return handler
