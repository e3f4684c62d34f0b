"""Waking the sync daemon when another process commits to the node's SQLite file.

The web app, the bridge and the CLI write the node's database in their own processes; the
sync daemon must notice a new change at once, not at its next poll, or a dispatch waits up
to a poll period before it leaves for the station. SQLite has no cross-process
notification, but `PRAGMA data_version` on a connection of its own changes whenever any
other connection commits, and reading it touches no table: checking it every few
milliseconds costs next to nothing. (PostgreSQL has LISTEN/NOTIFY; central on PostgreSQL
keeps the daemon's plain poll, it hardly ever writes changes of its own.)

`CommitWatcher(path, on_commit)` does nothing until `start()`; `stop()` ends its thread.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("siaga112.sync.watch")

INTERVAL = 0.02  # seconds between two looks: a commit is noticed within 20 ms (10 on average)


class CommitWatcher:
    def __init__(self, path: str | Path, on_commit: Callable[[], None], interval: float = INTERVAL) -> None:
        self.path = Path(path)
        self.on_commit = on_commit
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.commits_seen = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
        except sqlite3.Error as exc:  # the daemon still polls: slower, never wrong
            log.warning("cannot watch %s for commits (%s); polling only", self.path, exc)
            return
        with contextlib.closing(con):
            last = None
            while not self._stop.is_set():
                time.sleep(self.interval)  # cheaper than Event.wait(timeout) at this rate
                try:
                    version = con.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error as exc:
                    log.debug("data_version: %s", exc)
                    continue
                if last is not None and version != last:
                    self.commits_seen += 1
                    self.on_commit()
                last = version
