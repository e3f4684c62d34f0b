"""Build a node exactly as the previous release made it, to test upgrades (tests/test_migrations.py).

Why it exists: the upgrade test must open a database that the previous release's own code
created, not one this release creates and then mangles. This script checks out that release
(`git worktree add --detach` in a temp folder: the working tree is not touched), runs its
`siaga112 init` and records a few cases and dispatches with its code (a subprocess with
PYTHONPATH pointing at the worktree), and removes the worktree again.

    .venv/bin/python tests/data/make_prev_release_node.py        # rewrite the committed fixture
    .venv/bin/python tests/data/make_prev_release_node.py --commit <sha> --out /tmp/node.tar.gz

The fixture (tests/data/prev-release-node.tar.gz) holds the node's data folder; its file
PREV_RELEASE names the commit that made it. Regenerate it when PREV_RELEASE moves on to the
next release (the release before the newest migration).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "prev-release-node.tar.gz"
# The last commit before schema migrations existed (edge/migrations/m0001_radio_callsign.py).
PREV_RELEASE = "e79911ca646959feacab2743a31a3036942e45f8"
NODE_ID = "posko-lama"
CASES = 3

# Runs inside the previous release (its edge/, sync/, firmware_bridge on PYTHONPATH).
RECORD = r"""
import sys
from edge.models import Agency, db_proxy
from edge.services.node import open_node
from edge.services.users import create_user, get_user
from edge.services.incidents import create_incident, dispatch_agencies
from edge.services.dispatches import update_status
import edge

assert edge.__file__.startswith(sys.argv[2]), f"not the previous release's code: {edge.__file__}"
db = open_node(sys.argv[1])
create_user("operator", "call_taker", "operator-sandi-1", "Operator")
create_user("damkar", "agency", "damkar-sandi-1", "Damkar", "DAMKAR")
# The interim of that release: the station's radio callsign kept in station_node.
Agency.update(station_node="damkr1").where(Agency.code == "DAMKAR").execute()
Agency.update(station_node="bpbd-station-kota").where(Agency.code == "BPBD").execute()
operator, damkar = get_user("operator"), get_user("damkar")
for i in range(int(sys.argv[3])):
    incident = create_incident(operator, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": "Senggoro",
                                          "address": f"Jl. Lama {i}", "reporter_number": "081234567890"}).incident
    for dispatch in dispatch_agencies(operator, incident.id, ["DAMKAR", "POLRES"]):
        if dispatch.agency.code == "DAMKAR":
            update_status(damkar, dispatch.id, {"status": "received"})
db.close()
db_proxy.initialize(None)
"""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed: {exc.stderr.strip()[-2000:]}") from exc


def git(*args: str) -> list[str]:
    # safe.directory: CI runs as root in a checkout owned by someone else.
    return ["git", "-c", f"safe.directory={REPO}", "-C", str(REPO), *args]


def history_problem(commit: str = PREV_RELEASE) -> str | None:
    """Why the previous release cannot be checked out from this checkout's history, or None."""
    try:
        run(git("cat-file", "-e", f"{commit}^{{commit}}"))
    except (OSError, RuntimeError) as exc:
        return str(exc)
    return None


def build(data_dir: Path, commit: str = PREV_RELEASE, cases: int = CASES, database_url: str | None = None) -> Path:
    """Create the node in `data_dir` with the code of `commit` (needs git and that commit); with
    `database_url` a central keeping its data in that (PostgreSQL) database."""
    with tempfile.TemporaryDirectory(prefix="siaga112-prev-") as tmp:
        tree = Path(tmp) / "tree"
        run(git("worktree", "add", "--detach", str(tree), commit))
        try:
            env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'firmware-bridge'}"}
            env.pop("SIAGA112_DATA_DIR", None)
            env.pop("SIAGA112_DATABASE_URL", None)
            where = ["--role", "central", "--database-url", database_url] if database_url else []
            run([sys.executable, "-c", "from edge.cli import main; main()", "init", "--node-id", NODE_ID,
                 "--data-dir", str(data_dir), *where], env=env, cwd=tmp)
            run([sys.executable, "-c", RECORD, str(data_dir), str(tree), str(cases)], env=env, cwd=tmp)
        finally:
            run(git("worktree", "remove", "--force", str(tree)))
    (data_dir / "PREV_RELEASE").write_text(commit + "\n", encoding="utf-8")
    return data_dir


def pack(data_dir: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(data_dir.rglob("*")):
            if path.is_file() and not path.name.endswith(("-wal", "-shm")):
                tar.add(path, arcname=str(path.relative_to(data_dir)))
    return out


def unpack(fixture: Path, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fixture) as tar:
        tar.extractall(data_dir, filter="data")
    return data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commit", default=PREV_RELEASE)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = build(Path(tmp) / "node", args.commit)
        print(pack(data_dir, args.out))


if __name__ == "__main__":
    main()
