"""`siaga112 install` in throw-away roots, running the very commands docs/install.md gives.

Each machine of the doc (central, a posko, an agency station) is a temporary folder passed as
`--root`, seeded with the few /etc files of a bare Debian that `useradd --root` needs. The
`siaga112` commands are read from the doc's ```sh blocks, section by section, and run in
order with their absolute paths moved into the machine's root; the bundle a node is given
(/root/NAME.bundle.json) is the one central's `pki issue` wrote. Then the test checks what the
install wrote: user, folders and modes, config, units (verified by systemd-analyze) and their
enablement, Mosquitto on central, the node's database (audit chain verified) and that a second
run changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_config
from edge.install import backup_units

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "install.md"
DATA = "/var/lib/siaga112"
SEED = {  # a bare Debian 12's accounts, as far as useradd and the install look at them
    "passwd": "root:x:0:0:root:/root:/bin/bash\nmosquitto:x:103:111::/var/lib/mosquitto:/usr/sbin/nologin\n",
    "group": "root:x:0:\ndialout:x:20:\nmosquitto:x:111:\n",
    "shadow": "root:*:19000:0:99999:7:::\nmosquitto:!:19000::::::\n",
    "gshadow": "root:*::\ndialout:*::\nmosquitto:!::\n",
}

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="install needs root (useradd --root, chown); CI runs as root"),
    pytest.mark.skipif(not (shutil.which("useradd") and shutil.which("systemctl")),
                       reason="needs useradd (passwd) and systemctl (systemd)"),
]


def doc_commands() -> dict[str, list[list[str]]]:
    """The doc's `siaga112 ...` command lines (argv), by section heading, in order."""
    out: dict[str, list[list[str]]] = {}
    section, in_sh = "", False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_sh = line.strip() == "```sh"
            continue
        if not in_sh and line.startswith("#"):
            section = line.lstrip("#").strip()
        elif in_sh:
            argv = shlex.split(line, comments=True)
            if argv and argv[0].endswith("siaga112"):
                out.setdefault(section, []).append(argv)
    return out


def seeded_root(path: Path) -> Path:
    (path / "etc").mkdir(parents=True)
    for name, text in SEED.items():
        (path / "etc" / name).write_text(text)
        os.chmod(path / "etc" / name, 0o640 if "shadow" in name else 0o644)
    return path


def run(argv: list[str], machine: Path, central: Path) -> subprocess.CompletedProcess[str]:
    """Run one doc command on `machine`: absolute node paths moved into its root, bundles from central's CA."""
    args = []
    for token in argv[1:]:
        if m := re.fullmatch(r"/root/(.+)\.bundle\.json", token):
            token = str(central / DATA.lstrip("/") / "pki" / m.group(1) / "bundle.json")
        elif token.startswith((DATA, "/etc/siaga112")):
            token = str(machine / token.lstrip("/"))
        args.append(token)
    if args[0] == "install":
        args += ["--root", str(machine)]
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done


def install_line(section: str) -> list[str]:
    return next(argv for argv in doc_commands()[section] if argv[1] == "install")


def tree(root: Path) -> dict[str, tuple]:
    """Everything under root: mode, owner, and content hash or link target."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        body = os.readlink(p) if p.is_symlink() else (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file()
                                                       else "")
        out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, body)
    return out


@pytest.fixture(scope="module")
def regency(tmp_path_factory) -> dict[str, Path]:
    """Central, posko-rupat and damkar-bengkalis installed exactly as docs/install.md says."""
    commands = doc_commands()
    machines = {name: seeded_root(tmp_path_factory.mktemp(name)) for name in ("central", "posko", "agency")}
    central = machines["central"]
    for argv in commands["Central"]:
        run(argv, central, central)
    for section in ("3. The enrolment bundle", "Agency station"):  # bundles are issued on central
        for argv in commands[section]:
            if argv[1] == "pki":
                run(argv, central, central)
    run(install_line("4. Install the posko"), machines["posko"], central)
    run(install_line("Agency station"), machines["agency"], central)
    return machines


def test_the_doc_has_the_steps_this_test_runs():
    commands = doc_commands()
    assert [a[1:3] for a in commands["Central"]] == [["pki", "init"], ["pki", "issue"], ["install", "--role"]]
    assert install_line("4. Install the posko")[1:4] == ["install", "--role", "posko"]
    assert install_line("Agency station")[1:4] == ["install", "--role", "agency"]
    assert ["audit", "verify"] in [a[1:3] for a in commands["5. Start and check"]]


def passwd_entry(root: Path, user: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.startswith(user + ":"):
            return line.split(":")
    raise AssertionError(f"no {user} in {root}/etc/passwd")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("machine", "role", "node_id", "units"), [
    ("posko", "posko", "posko-rupat", {"siaga112-web.service", "siaga112-sync.service", "siaga112-bridge.service"}),
    ("agency", "agency", "damkar-bengkalis",
     {"siaga112-web.service", "siaga112-sync.service", "siaga112-bridge.service"}),
    ("central", "central", "central", {"siaga112-web.service", "siaga112-sync.service"}),
])
def test_install_writes_the_node(regency, machine, role, node_id, units):
    root = regency[machine]
    user = passwd_entry(root, "siaga112")
    uid, gid = int(user[2]), int(user[3])
    assert 0 < uid < 1000 and user[5:] == [DATA, "/usr/sbin/nologin"]  # a system user without login
    assert "siaga112:x:" in (root / "etc/group").read_text()
    data, etc = root / DATA.lstrip("/"), root / "etc/siaga112"
    assert (mode(data), data.stat().st_uid, data.stat().st_gid) == (0o750, uid, gid)
    assert (mode(etc), etc.stat().st_uid, etc.stat().st_gid) == (0o750, 0, gid)
    config_path = etc / "siaga112.toml"
    assert (mode(config_path), config_path.stat().st_gid) == (0o640, gid)
    config = load_config(config_path, environ={})
    assert (config.node.id, config.node.role, config.node.data_dir) == (node_id, role, DATA)
    # the node: database owned by the service user, enrolled, audit chain intact
    assert (data / "siaga112.sqlite3").stat().st_uid == uid
    assert (data / "sync" / "sync.json").exists() and mode(data / "sync" / "sign.key") == 0o600
    audit = run(["siaga112", "audit", "verify", "--data-dir", DATA], root, regency["central"])
    assert re.search(r"\d+ events checked, 0 problems", audit.stdout)
    # units installed, pointing at this venv and the data folder, enabled under siaga112.target
    unit_dir = root / "etc/systemd/system"
    backup = set(backup_units())  # the backup service and timer, when the checkout has them
    assert {p.name for p in unit_dir.glob("siaga112-*")} - {"siaga112-sync.service.d"} == units | backup
    if "siaga112-backup.timer" in backup:
        assert (unit_dir / "timers.target.wants" / "siaga112-backup.timer").is_symlink()
    for name in units:
        text = (unit_dir / name).read_text()
        assert str(Path(sys.prefix) / "bin") in text and "/opt/siaga112/venv" not in text
    wants = {p.name for p in (unit_dir / "siaga112.target.wants").iterdir()}
    assert wants == units
    target_link = unit_dir / "multi-user.target.wants" / "siaga112.target"
    assert os.readlink(target_link) == "/etc/systemd/system/siaga112.target"
    if shutil.which("systemd-analyze"):  # by path, not --root: see tests/test_systemd_units.py
        paths = [str(unit_dir / name) for name in (*units, *backup, "siaga112.target")]
        done = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_posko_config_carries_the_options(regency):
    config = load_config(regency["posko"] / "etc/siaga112/siaga112.toml", environ={})
    assert (config.web.bind, config.bridge.modem, config.bridge.radio) == ("0.0.0.0", "/dev/siaga-modem", "")
    agency = load_config(regency["agency"] / "etc/siaga112/siaga112.toml", environ={})
    assert (agency.bridge.radio, agency.bridge.callsign, agency.bridge.modem) == ("127.0.0.1:8001", "DAMKR1", "")


def test_central_gets_the_broker_and_the_ingest_dropin(regency):
    root = regency["central"]
    conf = (root / "etc/mosquitto/siaga112/mosquitto.conf").read_text()
    assert str(root) not in conf  # paths as the installed system sees them
    assert "cafile /etc/mosquitto/siaga112/tls/ca.crt" in conf and "listener 8883 0.0.0.0" in conf
    assert "persistence_location /var/lib/mosquitto/" in conf and "user mosquitto" in conf
    key = root / "etc/mosquitto/siaga112/tls/server.key"
    assert (mode(key), key.stat().st_uid) == (0o600, 103)  # the broker reads it after dropping to mosquitto
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((root / "etc/mosquitto/siaga112/tls/server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.20.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}  # the bundles' broker host
    dropin = root / "etc/systemd/system/mosquitto.service.d/siaga112.conf"
    assert "ExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/siaga112/mosquitto.conf" in dropin.read_text()
    ingest = (root / "etc/systemd/system/siaga112-sync.service.d/central.conf").read_text()
    assert "After=mosquitto.service" in ingest
    pki = root / DATA.lstrip("/") / "pki"
    assert (pki.stat().st_uid, mode(pki / "ca.key")) == (0, 0o600)  # the CA stays root's


@pytest.mark.parametrize(("machine", "section"), [("posko", "4. Install the posko"), ("agency", "Agency station"),
                                                  ("central", "Central")])
def test_a_second_run_changes_nothing(regency, machine, section):
    root = regency[machine]
    before = tree(root)
    done = run(install_line(section), root, regency["central"])
    assert "Nothing changed" in done.stdout and "created" not in done.stdout, done.stdout
    assert tree(root) == before


def test_install_refuses_another_node_over_an_installed_one(regency):
    done = subprocess.run([sys.executable, "-m", "edge.cli", "install", "--role", "posko", "--node-id", "posko-lain",
                           "--root", str(regency["posko"])], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is for node posko-rupat (posko), not posko-lain (posko)" in done.stderr


def test_install_without_bundle_and_bad_options(tmp_path):
    root = seeded_root(tmp_path / "m")
    bad = subprocess.run([sys.executable, "-m", "edge.cli", "install", "--role", "posko", "--node-id", "posko-x",
                          "--web-bind", "localhost", "--root", str(root)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "[web] bind: expected an IP address" in bad.stderr
    done = subprocess.run([sys.executable, "-m", "edge.cli", "install", "--role", "posko", "--node-id", "posko-x",
                           "--root", str(root)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "One-time password" in done.stdout
    wants = {p.name for p in (root / "etc/systemd/system/siaga112.target.wants").iterdir()}
    assert wants == {"siaga112-web.service"}  # not enrolled: no sync; no modem or radio: no bridge
