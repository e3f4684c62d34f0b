"""The drill's processes and disk beside the regency's: node writers, libfaketime, a fillable tmpfs.

Why it exists: tests/faults/drill.py needs a node's writes in a process of its own (killable,
clock-skewable: tests/faults/worker.py), a wrong wall clock for a node's processes, and a disk
that can be made full and freed again; these are the small wrappers around them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from sync.localnet import stop_process


class DrillError(RuntimeError):
    """The drill itself could not run (set-up failed, a writer does not answer)."""


def faketime_env(offset: str) -> dict[str, str]:
    """Environment that runs a process with its wall clock moved by `offset` (libfaketime, e.g. "-1h")."""
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not libs:
        raise DrillError("libfaketime is missing: install the Debian package 'faketime'")
    # Not FAKETIME_DONT_FAKE_MONOTONIC=1: with it Python 3.11's time.sleep (clock_nanosleep, absolute
    # monotonic deadline) fails with EINVAL, which kills paho's network thread.
    return {"LD_PRELOAD": libs[0], "FAKETIME": offset}


class Worker:
    """A node's writer process (tests/faults/worker.py) and its line protocol."""

    def __init__(self, node_id: str, data_dir: Path, env: dict[str, str]) -> None:
        self.node_id, self.data_dir, self.env = node_id, data_dir, env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.worker", str(self.data_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=(self.data_dir.parent / f"{self.node_id}-worker.log").open("ab"),
                                     text=True, bufsize=1, env={**os.environ, **self.env})
        ready = self._read()
        if not (ready and ready.get("ready")):
            raise DrillError(f"writer of {self.node_id} did not start")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read(self) -> dict | None:
        line = self.proc.stdout.readline() if self.proc else ""
        return json.loads(line) if line else None

    def send(self, request: dict) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def request(self, request: dict) -> dict | None:
        """The answer, or None if the writer died before answering."""
        try:
            self.send(request)
            return self._read()
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
        self.stop()

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            stop_process(self.proc, 5)
            self.proc.stdout.close()
        self.proc = None


class DiskFiller:
    """A node's data folder on its own small tmpfs, which `fill()` fills up and `free()` empties."""

    def __init__(self, folder: Path, megabytes: int) -> None:
        self.folder = folder
        self.filler = folder / "drill-filler"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "siaga112-drill", str(folder)],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DrillError(f"cannot mount a tmpfs on {folder}: {exc}") from exc
        if out.returncode != 0:
            raise DrillError(f"cannot mount a tmpfs on {folder} (needs root): {out.stderr.strip()}")
        self.full = False

    def fill(self) -> None:
        """Take every free block: big fallocate chunks while they fit, then smaller, down to one page."""
        chunk = max(os.statvfs(self.folder).f_bavail * os.statvfs(self.folder).f_frsize, 4096)
        with self.filler.open("ab") as f:
            offset = f.seek(0, os.SEEK_END)
            while chunk >= 4096:
                try:
                    os.posix_fallocate(f.fileno(), offset, chunk)
                    offset += chunk
                except OSError:
                    chunk //= 2
        self.full = True

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        self.full = False

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)
