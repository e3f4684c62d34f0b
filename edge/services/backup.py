"""Online backups of a node and their restore: what an island posko needs after a dead disk.

A backup is one folder `siaga112-<node>-<YYYYmmddTHHMMSSZ>` holding a consistent copy of
the SQLite database (made with SQLite's backup API inside one read transaction, so it is
a snapshot of one instant while the web app, the sync daemon and the bridge keep writing:
in WAL mode a reader never blocks a writer), the small files a node cannot live without
(secret_key, sync/ with its keys, certificates and directory, pki/ on central) and a
MANIFEST.json with a SHA-256 of every file. The copy is checked with `PRAGMA
integrity_check`, every file is fsynced, and only then is the folder renamed from its
`.partial` name, so a backup that exists is complete. Older backups of the same node are
rotated away (the newest N stay).

`restore_backup` verifies a backup before it touches anything, refuses to replace a
database that a running process has open (unless forced), writes the new database to a
temporary file, fsyncs it and renames it into place, and keeps the replaced database and
files in `replaced-<timestamp>/` inside the data folder.

PostgreSQL nodes (a `database_url` file) are not covered: use pg_dump (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from edge.db import DB_FILENAME, database_path, url_path
from sync.rejoin import Fence

FORMAT = "siaga112-backup/1"
MANIFEST = "MANIFEST.json"
FILES_DIR = "files"  # node files inside a backup, under their path relative to the data folder
NODE_FILES = ("secret_key", "metrics_token", "sync", "pki")  # what a node cannot live without besides its database
DEFAULT_KEEP = 14
PAGES_PER_STEP = 256  # backup API step size (4 KiB pages: 1 MiB per step)
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
NAME_RE = re.compile(r"^siaga112-(?P<node>[a-z0-9-]+)-(?P<stamp>\d{8}T\d{6}Z)$")
BACKUP_DIR_ENV = "SIAGA112_BACKUP_DIR"
SIDECARS = ("-wal", "-shm", "-journal")
# SQLite's WAL index: every connection holds a shared lock on the "dead man switch" byte of
# the -shm file while it has the database open (WALINDEX_LOCK_OFFSET 120 + 8 lock bytes).
SHM_DMS_OFFSET = 128




class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


class NotSqlite(BackupError):
    """The node keeps its data in PostgreSQL: `siaga112 backup` covers SQLite only."""


class BadBackup(BackupError):
    """A backup folder that is incomplete, corrupt or not a Siaga 112 backup."""


class NodeInUse(BackupError):
    """The target database is open in a running process (web, sync, bridge)."""


@dataclass
class BackupInfo:
    path: Path
    node_id: str
    created_at: datetime
    complete: bool
    db_bytes: int = 0
    manifest: dict = field(default_factory=dict)


@dataclass
class RestoreResult:
    node_id: str
    database: Path
    replaced: Path | None  # where the replaced database and files were kept, if anything was replaced
    files: list[str]
    enrolled: bool = False  # the node syncs with central (sync/sync.json)
    fence: Fence | None = None  # an enrolled node: its sequences were fenced and it will rejoin its peers


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime(STAMP_FORMAT)


def default_backup_dir(data_dir: Path) -> Path:
    """$SIAGA112_BACKUP_DIR or DATA_DIR/backups (put backups on another disk with --to)."""
    env = os.environ.get(BACKUP_DIR_ENV)
    return Path(env) if env else Path(data_dir) / "backups"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _require_sqlite(data_dir: Path) -> Path:
    if url_path(data_dir).exists():
        raise NotSqlite(f"{data_dir} keeps its data in PostgreSQL (database_url): 'siaga112 backup' covers "
                        "SQLite nodes only; back up PostgreSQL with pg_dump (see docs/operations.md)")
    db_path = database_path(data_dir)
    if not db_path.exists():
        raise BackupError(f"no node database at {db_path}; is --data-dir right?")
    return db_path


def _node_identity(con: sqlite3.Connection) -> tuple[str, str]:
    rows = dict(con.execute("SELECT key, value FROM node_setting WHERE key IN ('node_id', 'node_role')").fetchall())
    return rows.get("node_id") or "node", rows.get("node_role") or "posko"


def integrity_check(db_path: Path) -> list[str]:
    """`PRAGMA integrity_check` of a database file opened read-only: [] when it is sound."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as con:
            rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def _node_file_paths(data_dir: Path) -> Iterator[Path]:
    """The node's must-keep files (regular files only), relative to `data_dir`."""
    for name in NODE_FILES:
        top = data_dir / name
        if top.is_file():
            yield Path(name)
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield path.relative_to(data_dir)


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(src, dst)
    os.chmod(dst, src.stat().st_mode & 0o777)
    _fsync_file(dst)


@contextlib.contextmanager
def _dest_lock(dest: Path) -> Iterator[None]:
    """One backup at a time into a folder (the timer and an operator may start one together)."""
    with open(dest / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(f"another backup into {dest} is running; try again when it has finished") from exc
        yield


def _copy_database(db_path: Path, target: Path, progress=None) -> tuple[str, str, int]:
    """Copy the live database into `target` with the backup API, as one snapshot; returns (node, role, pages)."""
    with contextlib.closing(sqlite3.connect(str(db_path), timeout=30, isolation_level=None)) as src:
        # One read transaction around every step: each step reads the same snapshot, so the
        # copy never restarts however busy the writers are, and in WAL mode they are never blocked.
        src.execute("BEGIN")
        node_id, role = _node_identity(src)
        with contextlib.closing(sqlite3.connect(str(target), isolation_level=None)) as dst:
            src.backup(dst, pages=PAGES_PER_STEP, progress=progress, sleep=0)
            src.execute("COMMIT")
            # A self-contained single file: no -wal beside it in the backup.
            dst.execute("PRAGMA journal_mode=DELETE")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
    return node_id, role, pages


def create_backup(data_dir: Path, dest: Path | None = None, keep: int = DEFAULT_KEEP,
                  now: datetime | None = None, progress=None) -> BackupInfo:
    """Back the node in `data_dir` up into a new folder under `dest`, verify it, then rotate."""
    data_dir = Path(data_dir)
    db_path = _require_sqlite(data_dir)
    if keep < 1:
        raise BackupError(f"--keep must be at least 1, not {keep}")
    dest = Path(dest) if dest else default_backup_dir(data_dir)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    started = now or datetime.now(UTC)
    with _dest_lock(dest):
        for stale in dest.glob(".partial-*"):  # left by a backup killed midway (we hold the lock: none runs)
            shutil.rmtree(stale, ignore_errors=True)
        partial = dest / f".partial-{utc_stamp(started)}-{os.getpid()}"
        partial.mkdir(mode=0o700)
        try:
            node_id, role, pages = _copy_database(db_path, partial / DB_FILENAME, progress)
            problems = integrity_check(partial / DB_FILENAME)
            if problems:
                raise BackupError(f"the copy fails PRAGMA integrity_check ({problems[0]}); the live database may "
                                  "be damaged: run 'siaga112 doctor'")
            _fsync_file(partial / DB_FILENAME)
            files = {DB_FILENAME: _file_entry(partial / DB_FILENAME)}
            for rel in _node_file_paths(data_dir):
                _copy_file(data_dir / rel, partial / FILES_DIR / rel)
                files[f"{FILES_DIR}/{rel.as_posix()}"] = _file_entry(partial / FILES_DIR / rel)
            manifest = {
                "format": FORMAT, "node_id": node_id, "role": role,
                "started_at": started.isoformat(timespec="seconds"),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "sqlite_pages": pages, "integrity_check": "ok", "files": files,
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            _fsync_file(partial / MANIFEST)
            for folder in sorted({p.parent for p in partial.rglob("*")}, key=lambda p: -len(p.parts)):
                _fsync_dir(folder)
            final = dest / f"siaga112-{node_id}-{utc_stamp(started)}"
            if final.exists():
                raise BackupError(f"{final} already exists (two backups in the same second?)")
            os.rename(partial, final)
            _fsync_dir(dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        rotate(dest, node_id, keep)
    return read_backup(final)


def _file_entry(path: Path) -> dict:
    return {"sha256": sha256_file(path), "size": path.stat().st_size, "mode": oct(path.stat().st_mode & 0o777)}


def rotate(dest: Path, node_id: str, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups of `node_id` in `dest`; returns what was removed."""
    mine = [b for b in list_backups(dest) if b.node_id == node_id and b.complete]
    removed = []
    for old in mine[keep:]:
        shutil.rmtree(old.path)
        removed.append(old.path)
    if removed:
        _fsync_dir(dest)
    return removed


def read_backup(path: Path) -> BackupInfo:
    """A backup folder's identity from its name and manifest (`complete` False when the manifest is missing)."""
    path = Path(path)
    match = NAME_RE.match(path.name)
    if not path.is_dir() or not match:
        raise BadBackup(f"{path} is not a Siaga 112 backup folder (siaga112-<node>-<UTC time>)")
    created = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    manifest: dict = {}
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        pass
    db = path / DB_FILENAME
    complete = manifest.get("format") == FORMAT and db.exists()
    return BackupInfo(path, match["node"], created, complete, db.stat().st_size if db.exists() else 0, manifest)


def list_backups(dest: Path) -> list[BackupInfo]:
    """Backups in `dest`, newest first."""
    dest = Path(dest)
    if not dest.is_dir():
        return []
    found = []
    for path in dest.iterdir():
        if NAME_RE.match(path.name) and path.is_dir():
            found.append(read_backup(path))
    return sorted(found, key=lambda b: b.created_at, reverse=True)


def verify_backup(path: Path) -> BackupInfo:
    """Check a backup's manifest, every checksum and the database's integrity; BadBackup says what is wrong."""
    info = read_backup(path)
    if not info.manifest:
        raise BadBackup(f"{path} has no readable {MANIFEST}: the backup is incomplete or damaged; use an older one")
    if info.manifest.get("format") != FORMAT:
        raise BadBackup(f"{path}: unknown backup format {info.manifest.get('format')!r}")
    files = info.manifest.get("files") or {}
    if DB_FILENAME not in files:
        raise BadBackup(f"{path}: the manifest lists no database")
    for rel, entry in files.items():
        target = path / rel
        if not target.is_file():
            raise BadBackup(f"{path}: {rel} is missing; use an older backup")
        if sha256_file(target) != entry.get("sha256"):
            raise BadBackup(f"{path}: {rel} does not match its checksum (the backup is corrupt); use an older backup")
    problems = integrity_check(path / DB_FILENAME)
    if problems:
        raise BadBackup(f"{path}: the database fails PRAGMA integrity_check ({problems[0]}); use an older backup")
    return info


def _pids_with_open(paths: list[Path]) -> list[int]:
    """Processes (that we may see in /proc) holding one of `paths` open, this one included."""
    wanted = {str(p.resolve()) for p in paths if p.exists()}
    pids = []
    proc = Path("/proc")
    if not wanted or not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        pids.append(int(entry.name))
                        break
        except OSError:
            continue
    return pids


def _shm_locked(db_path: Path) -> bool:
    """Does a connection (in any process, this one included) hold the database open?

    An open-file-description lock (F_OFD_SETLK) conflicts with SQLite's POSIX lock on the
    WAL index even inside one process, and releasing it never drops SQLite's own locks."""
    shm = Path(f"{db_path}-shm")
    if not shm.exists():
        return False
    fd = os.open(shm, os.O_RDWR)
    try:
        request = struct.pack("hhqqixxxx", fcntl.F_WRLCK, os.SEEK_SET, SHM_DMS_OFFSET, 1, 0)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
        except OSError:
            return True
        return False  # closing the descriptor releases the probe lock
    finally:
        os.close(fd)


def database_in_use(db_path: Path) -> list[str]:
    """Why `db_path` looks in use ([] if not): a process holds it open or locks its WAL index."""
    sidecars = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
    pids = sorted(set(_pids_with_open(sidecars)))
    if os.getpid() in pids:
        # Probing the lock from a process that has the file open would drop that process's
        # own POSIX locks when the probe's descriptor closes: report without probing.
        return ["this process has it open"]
    reasons = [f"process(es) {', '.join(map(str, pids))} have it open"] if pids else []
    if _shm_locked(db_path):
        reasons.append("a connection holds its WAL index lock")
    return reasons


def _write_atomic(src: Path, target: Path, mode: int | None = None) -> None:
    """Copy `src` to `target` through a temporary file in the same folder: fsync, rename, fsync folder."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.parent / f".{target.name}.restore-tmp"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, mode if mode is not None else src.stat().st_mode & 0o777)
    _fsync_file(tmp)
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _current_node_id(db_path: Path) -> str | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as con:
            return _node_identity(con)[0]
    except sqlite3.DatabaseError:
        return None  # a damaged database: the usual reason for a restore


def _give_to_owner(data_dir: Path, paths: list[Path]) -> None:
    """Run as root, a restore would leave root-owned files the services (user siaga112) cannot
    write: give them, and their folders below the data folder, to the data folder's owner."""
    if os.geteuid() != 0:
        return
    owner = data_dir.stat()
    if owner.st_uid == 0:
        return
    for path in paths:
        for item in (path, *path.relative_to(data_dir).parents):
            target = item if item.is_absolute() else data_dir / item
            if target != data_dir and target.exists():
                os.chown(target, owner.st_uid, owner.st_gid)


def restore_backup(backup: Path, data_dir: Path, force: bool = False, now: datetime | None = None) -> RestoreResult:
    """Put `backup` in place as the node in `data_dir` (a fresh folder or the node it came from).

    Refuses when the current database is open in a running process or belongs to another
    node, unless `force`. What is replaced goes to DATA_DIR/replaced-<UTC time>/."""
    info = verify_backup(backup)
    data_dir = Path(data_dir)
    if url_path(data_dir).exists():
        raise NotSqlite(f"{data_dir} keeps its data in PostgreSQL (database_url): restore it with pg_restore; "
                        "'siaga112 restore' covers SQLite nodes only")
    db_path = database_path(data_dir)
    if db_path.exists() and not force:
        busy = database_in_use(db_path)
        if busy:
            raise NodeInUse(f"{db_path} is in use ({'; '.join(busy)}): stop siaga112-web, siaga112-sync, "
                            "siaga112-bridge and siaga112-backup.timer first, or pass --force")
        current = _current_node_id(db_path)
        if current not in (None, info.node_id):
            raise BackupError(f"{data_dir} is node {current!r} but the backup is of {info.node_id!r}; "
                              "pass --force to replace it anyway")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = data_dir / f"replaced-{utc_stamp(now)}"
    for n in range(1, 1000):  # two restores within one second keep both replaced databases
        if not aside.exists():
            break
        aside = data_dir / f"replaced-{utc_stamp(now)}-{n}"
    moved_any = False

    def put_aside(path: Path, rel: str) -> None:
        nonlocal moved_any
        (aside / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        moved_any = True
        os.replace(path, aside / rel)

    if db_path.exists():
        # Fold the old WAL into its file first (best effort: it may be the damaged one), so
        # the copy kept aside is whole and no stale -wal can pair with the new database.
        with contextlib.suppress(sqlite3.DatabaseError), contextlib.closing(
                sqlite3.connect(str(db_path), timeout=10)) as old:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (aside).mkdir(parents=True, exist_ok=True, mode=0o700)
        moved_any = True
        os.link(db_path, aside / DB_FILENAME)  # keep the old file, then swap the name atomically below
    tmp = data_dir / f".{DB_FILENAME}.restore-tmp"
    shutil.copyfile(info.path / DB_FILENAME, tmp)
    os.chmod(tmp, 0o600)
    _fsync_file(tmp)
    for suffix in SIDECARS:
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            put_aside(side, DB_FILENAME + suffix)
    os.replace(tmp, db_path)
    _fsync_dir(data_dir)
    restored = []
    for rel, entry in sorted(info.manifest["files"].items()):
        if not rel.startswith(f"{FILES_DIR}/"):
            continue
        target_rel = rel[len(FILES_DIR) + 1:]
        target = data_dir / target_rel
        if target.is_file() and sha256_file(target) == entry["sha256"]:
            continue
        if target.exists():
            put_aside(target, target_rel)
        _write_atomic(info.path / rel, target, int(entry.get("mode", "0o600"), 8))
        restored.append(target_rel)
    if moved_any:
        _fsync_dir(aside)
    result = RestoreResult(info.node_id, db_path, aside if moved_any else None, restored,
                           (data_dir / "sync" / "sync.json").exists())
    if result.enrolled:
        _prepare_rejoin(data_dir, info, result, now)
    _give_to_owner(data_dir, [db_path, *(data_dir / rel for rel in restored)])
    return result


def _prepare_rejoin(data_dir: Path, info: BackupInfo, result: RestoreResult, now: datetime | None) -> None:
    """An enrolled node: fence its sequences past the backup's, so it can work at once and
    rejoin its peers when its sync daemon starts (sync/rejoin.py)."""
    from edge.db import open_database
    from sync.rejoin import fence_restored

    db = open_database(data_dir)
    try:
        with db.connection_context():
            result.fence = fence_restored(info.created_at, now.replace(tzinfo=None) if now else None,
                                          result.replaced / DB_FILENAME if result.replaced else None)
    finally:
        db.close()
