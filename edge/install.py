"""`siaga112 install`: turn a Debian 12 machine (or a throw-away root) into a posko, agency station or central.

Why it exists: the appliance is set up by a regency IT officer, once per machine, and must
come out the same every time. The steps, in order: the system user `siaga112`, the data
folder and /etc/siaga112, the node's siaga112.toml, the node itself (`init_node` and the
enrolment bundle, exactly as `siaga112 init` does: both call `create_node` below), on
central the Mosquitto configuration (sync/broker.py), the systemd units from systemd/ with
this machine's paths, and enabling them. Each step says whether it changed anything, so a
second run changes nothing and says so.

Everything is written below `root` (default "/"): tests and image builders pass a temporary
folder, which must hold a Debian /etc (passwd, group, shadow, gshadow) for `useradd --root`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from edge.config import ConfigError, load_config, render
from edge.services.errors import ServiceError

USER = "siaga112"
CONFIG_PATH = Path("/etc/siaga112/siaga112.toml")
DEFAULT_DATA_DIR = Path("/var/lib/siaga112")
UNIT_SOURCE = Path(__file__).resolve().parent.parent / "systemd"
TEMPLATE_VENV = "/opt/siaga112/venv"
TEMPLATE_DATA_DIR = "/var/lib/siaga112"
TARGET = "siaga112.target"
# Not below /etc/siaga112 (0750 root:siaga112): the broker reads it after dropping to user mosquitto.
MOSQUITTO_DIR = Path("/etc/mosquitto/siaga112")
MOSQUITTO_PERSISTENCE = Path("/var/lib/mosquitto")
ROLE_UNITS = {
    "posko": ("siaga112-web.service", "siaga112-sync.service", "siaga112-bridge.service"),
    "agency": ("siaga112-web.service", "siaga112-sync.service", "siaga112-bridge.service"),
    "central": ("siaga112-web.service", "siaga112-sync.service"),
}
# Scheduled backups (another module's units): installed beside the others when present; the timer is enabled.
BACKUP_UNITS = ("siaga112-backup.service", "siaga112-backup.timer")
BACKUP_TIMER = "siaga112-backup.timer"
CENTRAL_SYNC_DROPIN = """\
# Written by `siaga112 install --role central`: on central the sync daemon is the ingest,
# fed by the Mosquitto broker on this machine, so it starts after the broker.
[Unit]
After=mosquitto.service
Wants=mosquitto.service
"""
MOSQUITTO_DROPIN = """\
# Written by `siaga112 install --role central`: Debian's mosquitto.service runs the Siaga 112
# broker configuration (TLS with the regency CA, per-node ACL) instead of /etc/mosquitto/.
[Service]
ExecStart=
ExecStart=/usr/sbin/mosquitto -c {conf}
"""


class InstallError(Exception):
    """The machine cannot be installed as asked (the message says why and what to do)."""


class Change(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass
class Step:
    what: str
    change: Change
    detail: str = ""

    def line(self) -> str:
        return f"{self.change.value:<9} {self.what}" + (f": {self.detail}" if self.detail else "")


@dataclass
class InstallOptions:
    role: str
    root: Path = Path("/")
    bundle: Path | None = None
    node_id: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    venv: Path = field(default_factory=lambda: Path(sys.prefix))
    profile: str = "bengkalis"
    admin: str = "admin"
    web_bind: str = "127.0.0.1"
    web_port: int = 8112
    modem: str = ""
    radio: str = ""
    callsign: str = ""
    pki_dir: Path | None = None  # central: the regency CA (default DATA_DIR/pki)
    broker_bind: str = "0.0.0.0"
    broker_port: int = 8883
    recover: bool = False  # rebuild a node that lost its disk with no backup from central (create_node)


@dataclass
class InstallReport:
    steps: list[Step] = field(default_factory=list)
    admin_password: str | None = None

    @property
    def changed(self) -> bool:
        return any(s.change in (Change.CREATED, Change.CHANGED) for s in self.steps)


# --- shared with `siaga112 init` -----------------------------------------------------------------


def create_node(data_dir: Path, node_id: str | None, role: str | None, bundle_path: Path | None,
                profile: str = "bengkalis", admin: str = "admin", database_url: str | None = None,
                recover: bool = False) -> tuple[Any, Any]:
    """Create the node in data_dir and, with a bundle, enrol it: what `siaga112 init` and install both do.
    `recover`: rebuild a node that lost its disk with no backup from central (needs the bundle).

    Returns (InitResult, bundle or None). Raises PkiError, ProfileError, ServiceError, or
    InstallError when the node id is missing."""
    from edge.services.node import init_node
    from sync.pki import PkiError, install_bundle, load_bundle

    bundle = None
    if bundle_path:
        bundle = load_bundle(bundle_path)
        if node_id not in (None, bundle["node_id"]) or role not in (None, bundle["role"]):
            raise PkiError(f"the bundle is for node {bundle['node_id']} ({bundle['role']}), "
                           f"not {node_id or '?'} ({role or '?'})")
        node_id, role = bundle["node_id"], bundle["role"]
    if not node_id:
        raise InstallError("--node-id is required (or give --bundle)")
    if recover and (bundle is None or role == "central"):
        raise InstallError("--recover rebuilds a posko or station from central: it needs that node's --bundle")
    result = init_node(data_dir, node_id, role or "posko", profile, admin, database_url, recover=recover)
    if bundle is not None:
        install_bundle(bundle, data_dir / "sync")
    return result, bundle


# --- helpers ---------------------------------------------------------------------------------------


def _under(root: Path, path: Path) -> Path:
    """`path` (absolute, as seen by the installed system) inside `root`."""
    return root / path.relative_to("/")


def _ids(root: Path, name: str) -> tuple[int, int] | None:
    """(uid, gid) of user `name` in root's /etc/passwd (not the running system's, under --root)."""
    try:
        for line in (root / "etc/passwd").read_text(encoding="utf-8").splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and parts[0] == name:
                return int(parts[2]), int(parts[3])
    except FileNotFoundError:
        pass
    return None


def _write_if_changed(path: Path, text: str, mode: int, what: str, owner: tuple[int, int] | None = None) -> Step:
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text and (path.stat().st_mode & 0o777) == mode:
        return Step(what, Change.UNCHANGED, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    if owner:
        os.chown(tmp, *owner)
    os.replace(tmp, path)
    return Step(what, Change.CREATED if old is None else Change.CHANGED, str(path))


def _directory(path: Path, mode: int, owner: tuple[int, int], what: str) -> Step:
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    st = path.stat()
    if not created and (st.st_mode & 0o777) == mode and (st.st_uid, st.st_gid) == owner:
        return Step(what, Change.UNCHANGED, f"{path} {mode:04o}")
    os.chmod(path, mode)
    os.chown(path, *owner)
    return Step(what, Change.CREATED if created else Change.CHANGED, f"{path} {mode:04o}")


def _chown_tree(path: Path, owner: tuple[int, int], skip: Path | None = None) -> int:
    """Give every file below `path` (but not below `skip`) to `owner`; how many needed it."""
    count = 0
    for p in [path, *path.rglob("*")]:
        if skip is not None and (p == skip or skip in p.parents):
            continue
        st = p.lstat()
        if (st.st_uid, st.st_gid) != owner:
            os.lchown(p, *owner)
            count += 1
    return count


def _systemctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["systemctl"] + ([f"--root={root}"] if root != Path("/") else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


# --- the steps -------------------------------------------------------------------------------------


def _user(opts: InstallOptions) -> Step:
    if _ids(opts.root, USER):
        return Step(f"system user {USER}", Change.UNCHANGED)
    if not (opts.root / "etc/passwd").exists():
        raise InstallError(f"{opts.root / 'etc/passwd'} is missing: --root must hold a Debian system's /etc "
                           "(passwd, group, shadow, gshadow)")
    if shutil.which("useradd") is None:
        raise InstallError("useradd not found (Debian package passwd)")
    cmd = ["useradd", "--system", "--user-group", "--home-dir", str(opts.data_dir), "--no-create-home",
           "--shell", "/usr/sbin/nologin", "--comment", "Siaga 112", USER]
    if opts.root != Path("/"):
        cmd[1:1] = ["--root", str(opts.root)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not _ids(opts.root, USER):
        raise InstallError(f"useradd failed: {done.stderr.strip() or done.returncode}")
    return Step(f"system user {USER}", Change.CREATED, "useradd --system, no login, home " + str(opts.data_dir))


def _config(opts: InstallOptions, node_id: str) -> tuple[Step, Path]:
    """Write siaga112.toml unless one exists; an existing file is kept (validated, and must match the node)."""
    path = _under(opts.root, CONFIG_PATH)
    if path.exists():
        try:
            current = load_config(path, environ={})
        except ConfigError as exc:
            raise InstallError(f"{exc}\nfix the file, or remove it and run install again") from None
        if (current.node.id, current.node.role) != (node_id, opts.role):
            raise InstallError(f"{path} is for node {current.node.id} ({current.node.role}), "
                               f"not {node_id} ({opts.role}); remove it to install another node")
        text = render(_config_values(opts, node_id))
        detail = str(path) if path.read_text(encoding="utf-8") == text else \
            f"{path} kept as it is (it differs from these options: edit it, or remove it and run install again)"
        return Step("config", Change.UNCHANGED, detail), Path(current.node.data_dir)
    text = render(_config_values(opts, node_id))
    return _write_if_changed(path, text, 0o640, "config", (0, _ids(opts.root, USER)[1])), opts.data_dir


def _config_values(opts: InstallOptions, node_id: str) -> dict[str, dict[str, object]]:
    return {
        "node": {"id": node_id, "role": opts.role, "data_dir": str(opts.data_dir)},
        "web": {"bind": opts.web_bind, "port": opts.web_port},
        "bridge": {"modem": opts.modem, "radio": opts.radio, "callsign": opts.callsign},
    }


def _node(opts: InstallOptions, data_dir: Path, node_id: str, report: InstallReport) -> Step:
    from edge.db import node_exists, open_database
    from edge.services import setting

    if node_exists(data_dir):
        db = open_database(data_dir)
        with db.connection_context():
            existing = setting("node_id"), setting("node_role")
        db.close()
        if existing != (node_id, opts.role):
            raise InstallError(f"{data_dir} already holds node {existing[0]} ({existing[1]}), "
                               f"not {node_id} ({opts.role})")
        if opts.bundle and not (data_dir / "sync" / "sync.json").exists():
            from sync.pki import install_bundle, load_bundle

            install_bundle(load_bundle(opts.bundle), data_dir / "sync")
            return Step("node", Change.CHANGED, f"{node_id} enrolled with {opts.bundle}")
        return Step("node", Change.UNCHANGED, f"{node_id} ({opts.role}) in {data_dir}")
    result, bundle = create_node(data_dir, node_id, opts.role, opts.bundle, opts.profile, opts.admin,
                                 recover=opts.recover)
    result.db.close()
    report.admin_password = result.admin_password
    enrolled = f", enrolled: broker {bundle['broker']['host']}:{bundle['broker']['port']}" if bundle else ""
    return Step("node", Change.CREATED, f"{node_id} ({opts.role}) in {data_dir}{enrolled}")


def _mosquitto(opts: InstallOptions, data_dir: Path) -> list[Step]:
    """Central: the broker's config, ACL and TLS files from the regency CA, and Debian's unit pointed at them."""
    from sync.broker import mosquitto_conf
    from sync.pki import PkiError, issue_server_cert

    pki_dir = opts.pki_dir or data_dir / "pki"
    if not (pki_dir / "ca.crt").exists():
        return [Step("mosquitto config", Change.SKIPPED,
                     f"no regency CA in {pki_dir} (create it with `siaga112 pki init --dir {pki_dir}` or give "
                     "--pki-dir), then run install again")]
    out_dir = _under(opts.root, MOSQUITTO_DIR)
    persistence = _under(opts.root, MOSQUITTO_PERSISTENCE)
    before = _snapshot(out_dir)
    try:
        if not (pki_dir / "server" / "server.crt").exists():
            # The nodes connect to the broker host written in their bundles: the broker's
            # certificate must name it (broker_conf alone names only localhost and its bind).
            hosts = ["localhost", "127.0.0.1"]
            sync_json = data_dir / "sync" / "sync.json"
            if sync_json.exists():
                hosts.append(json.loads(sync_json.read_text(encoding="utf-8"))["broker"]["host"])
            issue_server_cert(pki_dir, list(dict.fromkeys(hosts)))
        conf = mosquitto_conf(pki_dir, out_dir, opts.broker_port, opts.broker_bind, persistence, user="mosquitto")
    except PkiError as exc:
        raise InstallError(f"mosquitto config: {exc}") from None
    if opts.root != Path("/"):  # the broker reads the paths as the installed system sees them
        text = conf.read_text(encoding="utf-8").replace(str(opts.root.resolve()) + "/", "/")
        conf.write_text(text, encoding="utf-8")
    broker_ids = _ids(opts.root, "mosquitto")
    if broker_ids:  # the broker drops to this user before it reads tls/ and writes its pid file
        _chown_tree(out_dir, broker_ids)
        _chown_tree(persistence, broker_ids)
    after = _snapshot(out_dir)
    steps = [Step("mosquitto config", Change.UNCHANGED if before == after else
                  (Change.CHANGED if before else Change.CREATED), str(_under(Path("/"), MOSQUITTO_DIR)))]
    if not broker_ids:
        steps.append(Step("mosquitto user", Change.SKIPPED, "no user 'mosquitto': apt-get install mosquitto, "
                          "then run install again"))
    dropin = _under(opts.root, Path("/etc/systemd/system/mosquitto.service.d/siaga112.conf"))
    steps.append(_write_if_changed(dropin, MOSQUITTO_DROPIN.format(conf=MOSQUITTO_DIR / "mosquitto.conf"),
                                   0o644, "mosquitto.service drop-in"))
    return steps


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mode, p.stat().st_uid)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def render_unit(name: str, venv: Path, data_dir: Path) -> str:
    """systemd/NAME with this machine's venv and data folder in place of the template's."""
    text = (UNIT_SOURCE / name).read_text(encoding="utf-8")
    return text.replace(TEMPLATE_VENV, str(venv)).replace(TEMPLATE_DATA_DIR, str(data_dir))


def _units(opts: InstallOptions, data_dir: Path) -> list[Step]:
    if not UNIT_SOURCE.is_dir():
        raise InstallError(f"unit files not found in {UNIT_SOURCE}: install from a checkout (docs/install.md)")
    unit_dir = _under(opts.root, Path("/etc/systemd/system"))
    steps = []
    for name in (TARGET, *ROLE_UNITS[opts.role], *backup_units()):
        steps.append(_write_if_changed(unit_dir / name, render_unit(name, opts.venv, data_dir), 0o644,
                                       f"unit {name}"))
    if opts.role == "central":
        steps.append(_write_if_changed(unit_dir / "siaga112-sync.service.d" / "central.conf", CENTRAL_SYNC_DROPIN,
                                       0o644, "siaga112-sync.service drop-in (central ingest)"))
    return steps


def backup_units() -> tuple[str, ...]:
    """The backup service and timer, if this checkout has them."""
    return tuple(name for name in BACKUP_UNITS if (UNIT_SOURCE / name).exists())


def units_to_enable(opts: InstallOptions, data_dir: Path) -> list[str]:
    units = [TARGET, "siaga112-web.service"]
    if BACKUP_TIMER in backup_units():
        units.append(BACKUP_TIMER)
    if (data_dir / "sync" / "sync.json").exists():
        units.append("siaga112-sync.service")
    if opts.role != "central" and (opts.modem or opts.radio):
        units.append("siaga112-bridge.service")
    return units


def _enable(opts: InstallOptions, data_dir: Path) -> list[Step]:
    steps = []
    for unit in units_to_enable(opts, data_dir):
        if _systemctl(opts.root, "is-enabled", unit).stdout.strip() == "enabled":
            steps.append(Step(f"enable {unit}", Change.UNCHANGED))
            continue
        done = _systemctl(opts.root, "enable", unit)
        if done.returncode != 0:
            raise InstallError(f"systemctl enable {unit} failed: {done.stderr.strip()}")
        steps.append(Step(f"enable {unit}", Change.CREATED))
    return steps


# --- the whole install ----------------------------------------------------------------------------


def install(opts: InstallOptions, echo: Callable[[str], None] = lambda _line: None) -> InstallReport:
    """Run every step in order; `echo` gets each step's line as it completes."""
    from edge.services.node import NODE_ID_RE

    if opts.role not in ROLE_UNITS:
        raise InstallError(f"unknown role {opts.role!r}: posko, agency or central")
    if os.geteuid() != 0:
        raise InstallError("install must run as root (it creates a system user and writes /etc)")
    if not opts.data_dir.is_absolute():
        raise InstallError(f"--data-dir must be an absolute path, not {opts.data_dir}")
    opts.root = opts.root.resolve()
    node_id = opts.node_id
    if opts.bundle:
        from sync.pki import PkiError, load_bundle

        try:
            bundle = load_bundle(opts.bundle)
        except PkiError as exc:
            raise InstallError(str(exc)) from None
        if (node_id or bundle["node_id"], opts.role) != (bundle["node_id"], bundle["role"]):
            raise InstallError(f"the bundle is for node {bundle['node_id']} ({bundle['role']}), "
                               f"not {node_id or bundle['node_id']} ({opts.role})")
        node_id = bundle["node_id"]
    if not node_id or not NODE_ID_RE.match(node_id):
        raise InstallError("give --bundle or --node-id (2-32 lower-case letters, digits or '-')")
    if opts.role == "central" and (opts.modem or opts.radio):
        raise InstallError("central runs no bridge: leave out --modem and --radio")
    report = InstallReport()

    def add(*steps: Step) -> None:
        for step in steps:
            report.steps.append(step)
            echo(step.line())

    old_umask = os.umask(0o027)  # the database and keys are not for other users of the machine
    try:
        _install_steps(opts, node_id, report, add)
    finally:
        os.umask(old_umask)
    if opts.root == Path("/") and report.changed and Path("/run/systemd/system").exists():
        _systemctl(opts.root, "daemon-reload")
    return report


def _install_steps(opts: InstallOptions, node_id: str, report: InstallReport, add: Callable[..., None]) -> None:
    add(_user(opts))
    ids = _ids(opts.root, USER)
    assert ids is not None
    add(_directory(_under(opts.root, CONFIG_PATH.parent), 0o750, (0, ids[1]), "config folder"))
    try:
        config_step, data_dir_seen = _config(opts, node_id)
    except ConfigError as exc:
        raise InstallError("; ".join(exc.problems)) from None
    add(config_step)
    data_dir = _under(opts.root, data_dir_seen)
    add(_directory(data_dir, 0o750, ids, "data folder"))
    try:
        add(_node(opts, data_dir, node_id, report))
    except InstallError:
        raise
    except Exception as exc:  # PkiError, ProfileError, ServiceError: say it in one line
        message = str(exc)
        if isinstance(exc, ServiceError):
            from edge.i18n import translate

            message = translate(exc.message, "en", **exc.params)
            for name, problem in getattr(exc, "errors", {}).items():
                message += f"; {name}: {translate(problem, 'en')}"
        raise InstallError(f"creating the node failed: {message}") from exc
    if opts.role == "central":
        add(*_mosquitto(opts, data_dir))
    owned = _chown_tree(data_dir, ids, skip=data_dir / "pki")
    add(Step("data folder owner", Change.CHANGED if owned else Change.UNCHANGED,
             f"{owned} files given to {USER}" if owned else f"everything owned by {USER} (pki/ stays root's)"))
    add(*_units(opts, data_dir_seen))
    add(*_enable(opts, data_dir))
