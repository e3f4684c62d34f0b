"""The demo regency behind `make demo`: a newcomer records a case at a posko and sees it
appear on central's board seconds later, through the real broker and sync daemons.

Four nodes on this machine (sync.localnet.LocalRegency): central, posko-a (kecamatan
Bengkalis), posko-b (Bantan) and damkar-1 (a Damkar station), each with its sync daemon
and web app. posko-a has an emulated GSM modem, and posko-a and damkar-1 share a simulated
radio channel, each through its bridge daemon (`start_demo_devices`). Users replicate and
a user's id is derived from its username, so every demo
user is created on one node only (its "home") and sync carries it to the others; the
`admin` every node creates at init gets the demo password on every node, so whichever
copy wins the merge, the password is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.models import Agency
from edge.services import set_setting, setting
from edge.services.calls import classify_call, start_call
from edge.services.errors import NotFound
from edge.services.incidents import create_incident, dispatch_agencies
from edge.services.users import create_user, get_user, set_password

DEMO_PASSWORD = "siaga112-demo"
DEMO_USERS = (
    ("operator", "call_taker", None, "Operator Posko"),
    ("supervisor", "supervisor", None, "Supervisor Posko"),
    ("damkar", "agency", "DAMKAR", "Dispatcher Damkar"),
    ("polres", "agency", "POLRES", "Dispatcher Polres"),
    ("dinkes", "agency", "DINKES", "Dispatcher Dinkes"),
    ("bpbd", "agency", "BPBD", "Dispatcher BPBD"),
    ("pusat", "central", None, "Staf Diskominfotik"),
)
DEMO_NODES = (
    ("central", "central", None, []),
    ("posko-a", "posko", None, ["Bengkalis"]),
    ("posko-b", "posko", None, ["Bantan"]),
    ("damkar-1", "agency", "DAMKAR", ["Bengkalis", "Bantan"]),
)
# Web apps in port order: --port is posko-a's, the others follow.
WEB_ORDER = ("posko-a", "posko-b", "central", "damkar-1")
# Where each demo user is created; every other DEMO_USERS entry is created on posko-a.
HOME = {"pusat": "central", "damkar": "damkar-1"}
# The logins printed per node (all of them exist there once sync has run).
LOGINS = {
    "posko-a": ("operator", "supervisor", "admin", "polres", "dinkes", "bpbd"),
    "posko-b": ("operator", "supervisor", "admin"),
    "central": ("pusat", "admin"),
    "damkar-1": ("damkar", "admin"),
}
ROLES_LEGEND = ("operator: call-taker; supervisor; admin; pusat: central staff; "
                "damkar, polres, dinkes, bpbd: agency dispatchers")
READY = "demo_ready"

SAMPLE_CASES = (
    ("081266112233", {"incident_type": 4, "reporter_name": "Budi", "kecamatan": "Bengkalis", "desa": "Senggoro",
                      "landmark": "Simpang Jl. Antara", "latitude": 1.4669, "longitude": 102.1321, "victims_count": 2,
                      "victims_condition": "injured", "four_wheel_access": True,
                      "situation": "Tabrakan sepeda motor dan mobil bak"}, ["DAMKAR", "DINKES", "DISHUB", "POLRES"]),
    ("085211223344", {"incident_type": 9, "reporter_name": "Ibu Sari", "kecamatan": "Bantan", "desa": "Selatbaru",
                      "address": "RT 02 dekat pelabuhan", "victims_count": 0, "victims_condition": "none",
                      "situation": "Air pasang masuk rumah warga, 15 rumah terendam"}, []),
)


@dataclass
class DemoSite:
    node_id: str
    url: str
    logins: tuple[str, ...]


def seed_demo_cases() -> None:
    """Two open cases (one already dispatched) and a prank call, so the board is not empty."""
    operator = get_user("operator")
    for number, fields, agencies in SAMPLE_CASES:
        call = start_call(operator, {"caller_number": number})
        result = create_incident(operator, fields, call_id=call.id)
        if agencies:
            dispatch_agencies(operator, result.incident.id, agencies)
    prank = start_call(operator, {"caller_number": "081300000000"})
    classify_call(operator, prank.id, {"call_type": "prank"})


def _prepare_node(node_id: str) -> None:
    """Once per node (in the bound database): demo admin password, home users, sample cases."""
    if setting(READY) == "1":
        return
    set_password(get_user("admin"), DEMO_PASSWORD)
    for username, role, agency, name in DEMO_USERS:
        if HOME.get(username, "posko-a") == node_id:
            try:
                get_user(username)
            except NotFound:
                create_user(username, role, DEMO_PASSWORD, name, agency)
    if node_id == "posko-a":
        seed_demo_cases()
        # Damkar's SMS number (the demo's emulated phone network answers as this number), its
        # station's radio callsign (the demo's simulated air carries it) and that station's node.
        Agency.update(phone=DAMKAR_PHONE, radio_callsign=DAMKAR_CALLSIGN, station_node="damkar-1") \
            .where(Agency.code == "DAMKAR").execute()
    set_setting(READY, "1")


def open_demo_regency(root: str | Path):
    """Create the demo regency in `root` once (reused on later runs); returns the LocalRegency."""
    from sync.localnet import MOSQUITTO, LocalnetError, LocalRegency

    if not Path(MOSQUITTO).exists():
        raise LocalnetError(f"{MOSQUITTO} is missing: install the Debian package 'mosquitto' "
                            "(apt-get install mosquitto; `make demo` run as root installs it)")
    net = LocalRegency(Path(root), list(DEMO_NODES))
    for node_id in net.nodes:
        with net.use(node_id):
            _prepare_node(node_id)
    return net


def start_demo(net, first_port: int, host: str = "127.0.0.1") -> list[DemoSite]:
    """Start every web app, the broker and every sync daemon; returns what to print.

    Web apps first: each process upgrades the schema when it opens its node, and two
    processes doing that at once on one node can fail with "database is locked".
    """
    sites = [DemoSite(node_id, net.start_web(node_id, first_port + i, host), LOGINS[node_id])
             for i, node_id in enumerate(WEB_ORDER)]
    net.broker.start()
    for node_id in net.nodes:
        net.start_sync(node_id)
    return sites


DAMKAR_PHONE = "081311112222"
POSKO_CALLSIGN, DAMKAR_CALLSIGN = "POSKO1", "DAMKR1"


@dataclass
class DemoDevices:
    """The demo's hardware stand-ins: posko-a's GSM modem (emulator) and a shared radio channel
    on loopback, with posko-a's bridge (modem + radio) and the Damkar station's bridge (radio)."""

    emulator: object
    air: object
    bridges: list
    link: Path

    def stop(self) -> None:
        from sync.localnet import stop_process

        for bridge in self.bridges:
            stop_process(bridge)
        self.emulator.stop()
        self.air.stop()

    def dead(self) -> list[str]:
        return [f"bridge {i}" for i, b in enumerate(self.bridges) if b.poll() is not None]


def start_demo_devices(net, root: str | Path) -> DemoDevices:
    """Start posko-a's emulated GSM modem, the simulated radio channel and both bridges: caller ID,
    SMS dispatch and replies at posko-a; radio dispatch from posko-a to the Damkar station's inbox."""
    import sys

    from firmware_bridge.modem.emulator import ModemEmulator
    from firmware_bridge.radio.air import SimulatedAir
    from sync.localnet import spawn

    link = Path(root) / "modem"
    emulator = ModemEmulator(link)
    emulator.start()
    air = SimulatedAir()
    air.start()
    radio = f"127.0.0.1:{air.port}"
    posko, station = net["posko-a"], net["damkar-1"]
    bridges = [
        spawn([sys.executable, "-m", "edge.cli", "bridge", "run", "--data-dir", str(posko.data_dir),
               "--modem", str(link), "--radio", radio, "--callsign", POSKO_CALLSIGN], posko.data_dir / "bridge.log"),
        spawn([sys.executable, "-m", "edge.cli", "bridge", "run", "--data-dir", str(station.data_dir),
               "--radio", radio, "--callsign", DAMKAR_CALLSIGN], station.data_dir / "bridge.log"),
    ]
    return DemoDevices(emulator, air, bridges, link)


def missing_logins(net) -> list[str]:
    """'user@node' for every printed login that has not reached its node yet."""
    from edge.models import User

    missing = []
    for node_id, users in LOGINS.items():
        with net.use(node_id):
            present = {u.username for u in User.select(User.username).where(User.username.in_(users))}
        missing += [f"{u}@{node_id}" for u in users if u not in present]
    return missing
