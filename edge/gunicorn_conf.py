"""gunicorn settings from the node's siaga112.toml: `gunicorn --config python:edge.gunicorn_conf edge.wsgi:app`.

Why it exists: siaga112-web.service must listen where [web] in /etc/siaga112/siaga112.toml
says (bind, port, workers, threads) without repeating those values in the unit file. The
file is named by $SIAGA112_CONFIG (the unit sets it); SIAGA112_WEB_* variables override it
like everywhere else. A wrong value stops gunicorn with the config's own message.
"""

from __future__ import annotations

import ipaddress
import os
import sys

from gunicorn import glogging

from edge import logsetup
from edge.config import ConfigError, load_config

try:
    _config = load_config(os.environ.get("SIAGA112_CONFIG", "/etc/siaga112/siaga112.toml"))
except ConfigError as _exc:
    print("\n".join(_exc.lines()), file=sys.stderr)
    raise SystemExit(2) from None

_host = _config.web.bind
if ipaddress.ip_address(_host).version == 6:
    _host = f"[{_host}]"
bind = [f"{_host}:{_config.web.port}"]
workers = _config.web.workers
threads = _config.web.threads
worker_class = "gthread"
# Load the app (and open the node's schema) once in the master, before READY=1, so the
# units ordered after siaga112-web find the schema up to date.
preload_app = True
# gunicorn's own records go through edge.logsetup's handler like the app's (journald priorities,
# [log] format). No access log: URLs can carry case ids and callers' numbers.
errorlog = "-"
loglevel = _config.log.level.lower()


class SiagaLogger(glogging.Logger):
    """gunicorn's logger with its records handed to the root handler edge.logsetup installs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                self.error_log.removeHandler(handler)
        self.error_log.propagate = True
        logsetup.configure(cfg.loglevel, _config.log.format, node=_config.node.id)


logger_class = SiagaLogger
# A request that takes a minute is a hung worker; the arbiter replaces it.
timeout = 60
graceful_timeout = 20
