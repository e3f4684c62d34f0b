"""Writers of a node's SQLite database wait in a queue for the write lock instead of polling for it.

Why it exists: SQLite hands its write lock to no one. A `BEGIN IMMEDIATE` that finds it taken
sleeps in its busy handler (1, 2, 5, 10 ... then 100 ms between tries, up to busy_timeout) and
tries again; the lock is held a few milliseconds per write, so under ten call-takers a waiter
kept missing the moments it was free, and most of an intake request's time (p99 in seconds)
went in those sleeps. Here a writer first takes its turn: threads of one process queue on a
lock that wakes the next one when released, and processes (gunicorn's workers, the sync daemon,
the bridge) on an OS file lock, `flock` on `<database>-writer.lock`, which the kernel wakes a
waiter for the moment it is released. Only then `BEGIN IMMEDIATE`, which then nearly always
finds the SQLite lock free.

Nothing else changes: durability is SQLite's (WAL, synchronous=FULL), and a writer that does not
queue here (the sqlite3 shell, an older release) is still kept out by SQLite's own lock, just
served less fairly. The kernel drops a killed process's flock, so a crash never leaves the queue
stuck; a writer that waited `timeout` seconds (busy_timeout) goes on unqueued to SQLite's busy
handling, which fails as before ("database is locked") if the holder really is stuck.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time

from peewee import OperationalError, SqliteDatabase

log = logging.getLogger("siaga112.db")

LOCK_SUFFIX = "-writer.lock"
WRITE_LOCK_TYPES = ("IMMEDIATE", "EXCLUSIVE")
DEFAULT_TIMEOUT_S = 10.0  # without a busy_timeout pragma: SQLite's default in edge.db


class WriterQueue:
    """The turn to write one database file, across this process's threads and other processes.

    In a process, one thread at a time (the head of the queue) goes for the file lock. A blocking
    flock cannot time out, so when the lock is taken a helper thread blocks in flock and hands the
    lock to the head when it gets it; a head that gave up meanwhile leaves it to the next head, or
    the helper lets it go when no one wants it any more."""

    def __init__(self, database_path: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = str(database_path) + LOCK_SUFFIX
        self.timeout = timeout
        self._threads = threading.Lock()
        self._state = threading.Condition()  # guards the fields below
        self._fd: int | None = None
        self._pid = 0
        self._helper = False  # a helper thread is blocked in flock
        self._wanted = False  # the head waits for the helper's lock
        self._handed = False  # the helper got the lock and handed it to the head
        self._warned = False

    def _lock_fd(self) -> int:
        # Opened in each process that uses it: a descriptor inherited over fork (gunicorn's preload)
        # would be one open file shared by parent and child, and flock would not keep them apart.
        # Read-only is enough for flock, so a lock file another user created (root running a CLI
        # command on the service's node) still works. Called with self._state held.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._pid = os.getpid()
            self._helper = self._wanted = self._handed = False  # a parent's helper is not ours
        return self._fd

    def acquire(self) -> bool:
        """Wait for this writer's turn; False if `timeout` passed first (then it holds nothing)."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False
        try:
            if self._flock(deadline):
                return True
        except OSError as exc:  # no lock file to be had (a read-only folder): SQLite's lock alone, as before
            if not self._warned:
                self._warned = True
                log.warning("writers of %s do not queue: %s", self.path, exc)
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def _flock(self, deadline: float) -> bool:
        with self._state:
            fd = self._lock_fd()
            if not self._helper:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
                self._helper = True
                threading.Thread(target=self._wait_for_lock, args=(fd,), name="writer-queue", daemon=True).start()
            self._wanted = True
            while not self._handed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._helper:
                    self._wanted = False
                    return False
                self._state.wait(remaining)
            self._handed = False
            return True

    def _wait_for_lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            got = True
        except OSError as exc:
            log.warning("writers of %s do not queue: %s", self.path, exc)
            got = False
        with self._state:
            self._helper = False
            if got and self._wanted:
                self._wanted, self._handed = False, True
            elif got:
                fcntl.flock(fd, fcntl.LOCK_UN)  # the head gave up meanwhile and no one else came
            self._state.notify_all()

    def release(self) -> None:
        try:
            with self._state:
                fcntl.flock(self._lock_fd(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def writer_queue(database_path: str, timeout: float = DEFAULT_TIMEOUT_S) -> WriterQueue:
    """The one queue of this process for the database file at `database_path`."""
    key = os.path.realpath(database_path)
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key)
        if queue is None:
            queue = _QUEUES[key] = WriterQueue(key, timeout)
        return queue


_WRITE_SQL = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _in_memory(database: str) -> bool:
    return database == ":memory:" or database.startswith("file::memory:") or "mode=memory" in database


class QueuedSqliteDatabase(SqliteDatabase):
    """SqliteDatabase whose write transactions (`atomic("IMMEDIATE")`, what edge.services.write_tx,
    the migrations and sync use) first wait their turn in the WriterQueue of the database file.
    Reads and deferred transactions are untouched."""

    def __init__(self, database, *args, **kwargs) -> None:
        self._turn = threading.local()
        super().__init__(database, *args, **kwargs)

    def _queue(self) -> WriterQueue | None:
        if not self.database or _in_memory(str(self.database)):
            return None  # one connection only: nothing to share
        busy_ms = dict(self._pragmas or ()).get("busy_timeout")
        return writer_queue(str(self.database), busy_ms / 1000 if busy_ms else DEFAULT_TIMEOUT_S)

    def _end_turn(self) -> None:
        queue = getattr(self._turn, "queue", None)
        if queue is not None:
            self._turn.queue = None
            queue.release()

    def begin(self, lock_type: str | None = None) -> None:  # type: ignore[override]
        lock_type = lock_type or self._lock_type
        queue = self._queue() if lock_type and str(lock_type).upper() in WRITE_LOCK_TYPES else None
        if queue is None or getattr(self._turn, "queue", None) is not None:
            super().begin(lock_type)
            return
        if queue.acquire():
            self._turn.queue = queue
        try:
            super().begin(lock_type)
        except BaseException:
            self._end_turn()
            raise

    def execute_sql(self, sql, params=None):  # type: ignore[override]
        """A write outside a transaction (peewee's autocommit: a status upsert, a checkpoint update)
        takes its turn too; left to SQLite's busy handler it would starve behind the queue."""
        if (self.in_transaction() or getattr(self._turn, "queue", None) is not None
                or not _WRITE_SQL.match(sql)):
            return super().execute_sql(sql, params)
        queue = self._queue()
        if queue is None or not queue.acquire():
            return super().execute_sql(sql, params)
        self._turn.queue = queue
        try:
            return super().execute_sql(sql, params)
        finally:
            self._end_turn()

    def commit(self) -> None:
        super().commit()  # a failed COMMIT keeps the turn: peewee rolls back next, which ends it
        self._end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        except OperationalError as exc:
            # On SQLITE_FULL or an I/O error SQLite has already rolled the transaction back; a second
            # ROLLBACK would replace the error that says what happened ("database or disk is full").
            if "no transaction is active" not in str(exc):
                raise
        finally:
            self._end_turn()

    def _close(self, conn) -> None:
        try:
            super()._close(conn)
        finally:
            self._end_turn()  # a connection closed in the middle of a write ends its turn
