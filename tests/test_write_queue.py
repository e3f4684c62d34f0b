"""Writers queue for the SQLite write lock (edge/write_queue.py): one writer at a time across threads
and processes, the turn handed back on commit, rollback and a killed process, a bounded wait, and
write transactions of QueuedSqliteDatabase taking their turn while reads and deferred ones do not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from peewee import IntegerField, Model

from edge.db import SQLITE_PRAGMAS
from edge.write_queue import LOCK_SUFFIX, QueuedSqliteDatabase, WriterQueue, writer_queue

ROOT = Path(__file__).resolve().parents[1]

HOLDER = textwrap.dedent("""
    import sys, time
    from edge.write_queue import WriterQueue
    queue = WriterQueue(sys.argv[1])
    assert queue.acquire()
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    queue.release()
""")


def _holder(db_path: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the turn for `db_path` and keeps it `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path), str(seconds)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_waits_for_the_turn_and_gets_it_on_release(tmp_path):
    db_path = tmp_path / "node.sqlite3"
    proc = _holder(db_path, 0.4)
    queue = WriterQueue(str(db_path))
    start = time.monotonic()
    assert queue.acquire()
    waited = time.monotonic() - start
    queue.release()
    proc.wait(10)
    assert 0.2 < waited < 5
    assert (tmp_path / f"node.sqlite3{LOCK_SUFFIX}").exists()


def test_a_killed_holder_hands_the_turn_on(tmp_path):
    db_path = tmp_path / "node.sqlite3"
    proc = _holder(db_path, 60)
    queue = WriterQueue(str(db_path), timeout=0.2)
    assert not queue.acquire()  # held elsewhere: gives up after its timeout, holding nothing
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    queue.timeout = 5
    start = time.monotonic()
    assert queue.acquire()
    assert time.monotonic() - start < 1
    queue.release()


def test_threads_take_turns_one_at_a_time(tmp_path):
    queue = writer_queue(str(tmp_path / "node.sqlite3"))
    inside, most, done = [0], [0], []
    lock = threading.Lock()

    def writer() -> None:
        for _ in range(20):
            assert queue.acquire()
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.0005)
            with lock:
                inside[0] -= 1
            queue.release()
        done.append(1)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 6 and most[0] == 1


class Tally(Model):
    n = IntegerField(default=0)


@pytest.fixture
def tally_db(tmp_path):
    db = QueuedSqliteDatabase(str(tmp_path / "node.sqlite3"), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    with db.bind_ctx([Tally]):
        db.create_tables([Tally])
        Tally.create(n=0)
        yield db
    db.close()


def _queue_free(db) -> bool:
    """True when no one holds the turn of `db` (checked from another thread)."""
    result = []
    other = WriterQueue(db.database, timeout=0.05)  # a second queue: its flock meets the first's
    thread = threading.Thread(target=lambda: result.append(other.acquire()))
    thread.start()
    thread.join(5)
    if result[0]:
        other.release()
    return result[0]


def test_a_write_transaction_holds_the_turn_until_commit_or_rollback(tally_db):
    db = tally_db
    with db.atomic("IMMEDIATE"):
        Tally.update(n=Tally.n + 1).execute()
        assert not _queue_free(db)
        with db.atomic():  # nested: a savepoint inside the same turn
            Tally.update(n=Tally.n + 1).execute()
    assert _queue_free(db) and Tally.get().n == 2
    with pytest.raises(RuntimeError):
        with db.atomic("IMMEDIATE"):
            Tally.update(n=Tally.n + 1).execute()
            raise RuntimeError("refused")
    assert _queue_free(db) and Tally.get().n == 2  # rolled back, turn handed on
    with db.atomic():  # deferred (a read that may write): not queued
        assert _queue_free(db)
        Tally.get()
    with db.atomic("IMMEDIATE") as txn:
        Tally.update(n=Tally.n + 1).execute()
        txn.commit()  # commit in the middle: the turn ends and is taken again for the rest
        Tally.update(n=Tally.n + 1).execute()
    assert _queue_free(db) and Tally.get().n == 4


def test_a_write_outside_a_transaction_waits_its_turn_and_a_read_does_not(tally_db):
    """peewee's autocommit writes (a status upsert, a checkpoint) queue too: left to SQLite's busy
    handler they starved behind queued writers (a sync daemon's acks under 10 call-takers)."""
    db = tally_db
    proc = _holder(Path(db.database), 0.5)
    start = time.monotonic()
    assert Tally.get().n == 0  # a read goes straight on
    read_s = time.monotonic() - start
    Tally.update(n=Tally.n + 1).execute()  # autocommit: waits for the other process's turn to end
    write_s = time.monotonic() - start
    proc.wait(10)
    assert read_s < 0.3 <= write_s and Tally.get().n == 1
    assert _queue_free(db)  # and hands the turn back after its statement


def test_concurrent_read_then_write_transactions_lose_nothing(tally_db):
    db = tally_db
    errors = []

    def worker() -> None:
        try:
            for _ in range(25):
                with db.atomic("IMMEDIATE"):
                    value = Tally.get().n
                    Tally.update(n=value + 1).execute()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and Tally.get().n == 200


def test_an_in_memory_database_does_not_queue():
    db = QueuedSqliteDatabase(":memory:")
    with db.bind_ctx([Tally]):
        db.create_tables([Tally])
        with db.atomic("IMMEDIATE"):
            Tally.create(n=1)
        assert Tally.select().count() == 1
    db.close()
