"""sync/watch.py: a commit by another process's connection wakes the sync daemon; reads do not."""

from __future__ import annotations

import sqlite3
import threading
import time

from sync.watch import CommitWatcher


def test_a_commit_elsewhere_wakes_and_a_read_does_not(tmp_path):
    path = tmp_path / "node.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=wal")
    writer.execute("CREATE TABLE t (x)")
    woke = threading.Event()
    watcher = CommitWatcher(path, woke.set, interval=0.005)
    watcher.start()
    try:
        time.sleep(0.1)  # the watcher has its first data_version
        writer.execute("SELECT * FROM t").fetchall()
        time.sleep(0.1)
        assert not woke.is_set() and watcher.commits_seen == 0
        writer.execute("INSERT INTO t VALUES (1)")
        assert woke.wait(5)
        assert watcher.commits_seen == 1
    finally:
        watcher.stop()
        writer.close()


def test_a_missing_database_leaves_the_daemon_polling(tmp_path, caplog):
    watcher = CommitWatcher(tmp_path / "absent.sqlite3", lambda: None)
    watcher.start()
    watcher.stop()
    assert "polling only" in caplog.text
