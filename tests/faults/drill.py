"""The fault drill: a whole regency on one machine, random operations, faults, heal, verdict.

Why it exists: issue 7 asks to *show* that nothing is lost under faults. This starts central,
posko-a, posko-b and the Damkar station damkar-1 (sync/localnet.py: real PKI, real Mosquitto
with TLS, real `siaga112 sync run` daemons), each node's sync reaching the broker through its
own fault proxy (tests/faults/proxy.py), each node's writes done by a writer process
(tests/faults/worker.py). A seeded random generator picks operations (cases, dispatches, the
station's answers, closures, address edits) and faults (broker kill -9, sync daemon kill -9,
writer kill -9 mid-request, link down / blackhole / delay / cut, disk full on one node; one node's
clock is skewed all along). Then everything is healed and tests/faults/check.py must find every
acknowledged write where it belongs, no duplicates and all nodes converged.

The fault schedule comes from `random.Random(seed)` and each operation's choices from a generator
seeded with (seed, operation index), so a seed replays the same operations and faults in the same
order (timing, and so what each node has seen at a given moment, still varies).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.services.users import create_user, get_user, issue_token
from sync.localnet import MOSQUITTO, LocalnetError, LocalRegency, spawn, wait_port
from tests.faults.check import Verdict, check_ledger, compare, read_node
from tests.faults.http_writer import HttpWriter
from tests.faults.ledger import Case, Ledger
from tests.faults.procs import DiskFiller, DrillError, Worker, faketime_env
from tests.faults.proxy import FaultProxy, Mode
from tests.faults.report import Report

NODES = [
    ("central", "central", None, []),
    ("posko-a", "posko", None, ["Bengkalis"]),
    ("posko-b", "posko", None, ["Bantan"]),
    ("damkar-1", "agency", "DAMKAR", ["Bengkalis", "Bantan"]),
]
USERS = {"central": ("sup-pusat", "supervisor", None), "posko-a": ("op-a", "call_taker", None),
         "posko-b": ("op-b", "call_taker", None), "damkar-1": ("dk-1", "agency", "DAMKAR")}
POSKO = ("posko-a", "posko-b")
KECAMATAN = {"posko-a": "Bengkalis", "posko-b": "Bantan"}
PASSWORD = "drill-password-112"
RIPE_OPS = 30  # operations after which a write has usually replicated (about a second)
OP_WEIGHTS = {"create": 30, "dispatch": 8, "answer": 37, "close": 10, "edit": 15}
FAULT_KINDS = ("broker_kill", "sync_kill", "writer_kill", "link_down", "link_blackhole", "link_delay", "link_cut",
               "disk_full")
# SQLITE_FULL, or SQLITE_IOERR when even opening fails; over HTTP the API's 503 that names the disk.
DISK_ERRORS = ("disk is full", "disk I/O error", "storage_unavailable")


@dataclass
class DrillConfig:
    ops: int = 400
    seed: int | None = None
    minutes: float | None = None  # stop issuing operations after this long, even before `ops`
    rate: float = 25.0  # operations per second at most (faults last a number of operations)
    fault_every: tuple[int, int] = (12, 30)  # operations between two faults
    fault_length: tuple[int, int] = (20, 90)  # operations a lasting fault lasts
    kinds: tuple[str, ...] = FAULT_KINDS
    skew_node: str | None = "posko-a"
    skew: str = "-1h"
    disk_node: str | None = "posko-b"
    disk_mb: int = 256
    http_node: str | None = "posko-b"  # this node's writes go over its JSON API, to a web server killed by writer_kill
    converge_timeout: float = 180.0

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(1, 10**9)


@dataclass
class ActiveFault:
    kind: str
    target: str
    heal_at: int  # operation index


class Drill:
    """One drill run in `root` (a fresh folder): `run()` returns the Report."""

    def __init__(self, root: Path, config: DrillConfig, log=print) -> None:
        self.root = Path(root)
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self.report = Report(config.seed)
        self.ledger = Ledger()
        self.active: list[ActiveFault] = []
        self.deck: list[str] = []
        self.pending_sync: set[str] = set()  # daemons that exited on the full disk, started once it is freed
        self.disk_errors: Counter = Counter()  # error messages of writes refused by the full disk
        self.proxies: dict[str, FaultProxy] = {}
        self.workers: dict[str, Worker] = {}
        self.disk: DiskFiller | None = None
        self.net: LocalRegency | None = None

    # --- set-up and tear-down ------------------------------------------------------------

    def env(self, node_id: str) -> dict[str, str]:
        return faketime_env(self.config.skew) if node_id == self.config.skew_node else {}

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.config.disk_node and "disk_full" in self.config.kinds:
            try:
                self.disk = DiskFiller(self.root / self.config.disk_node, self.config.disk_mb)
            except DrillError as exc:
                self.report.notes.append(f"disk_full skipped: {exc}")
        self.net = LocalRegency(self.root, NODES)
        if self.disk is not None:  # its logs must not need the space that is gone
            self.net[self.config.disk_node].sync_log = self.root / f"{self.config.disk_node}-sync.log"
        for node_id, (username, role, agency) in USERS.items():
            with self.net.use(node_id):
                create_user(username, role, PASSWORD, agency_code=agency)
        self.net.broker.start()
        for node_id, node in self.net.nodes.items():
            proxy = FaultProxy(node_id, (self.net.broker.host, self.net.broker.port))
            self.proxies[node_id] = proxy
            config_path = node.data_dir / "sync" / "sync.json"
            config = json.loads(config_path.read_text())
            config["broker"]["port"] = proxy.port
            config_path.write_text(json.dumps(config))
            self.net.start_sync(node_id, **self.env(node_id))
            if node_id == self.config.http_node:
                with self.net.use(node_id):
                    token = issue_token(get_user(USERS[node_id][0]), "fault drill")
                node.web_log = self.root / f"{node_id}-web.log"  # off a full disk, too
                self.workers[node_id] = HttpWriter(self.net, node_id, token)
            else:
                self.workers[node_id] = Worker(node_id, node.data_dir, self.env(node_id))
            self.workers[node_id].start()
        if self.config.skew_node:
            self.report.faults[f"clock_skew ({self.config.skew_node} {self.config.skew}, whole run)"] += 1

    def teardown(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        if self.net is not None:
            self.net.stop()
        for proxy in self.proxies.values():
            proxy.close()
        if self.disk is not None:
            self.disk.free()
            self.disk.unmount()

    # --- operations ------------------------------------------------------------------------

    def _ask(self, node_id: str, request: dict) -> dict | None:
        """The writer's answer; a writer that died without being killed is a crash (it is restarted)."""
        worker = self.workers[node_id]
        answer = worker.request(request) if worker.alive() else None
        if answer is None:
            log = self.root / f"{node_id}-worker.log"
            self.report.crashes.append(f"{node_id} writer")
            self.report.problems.append(f"writer of {node_id} died on its own during {request.get('op')}:\n"
                                        + (log.read_text(errors="replace")[-1500:] if log.exists() else ""))
            worker.stop()
            try:
                worker.start()
            except (LocalnetError, DrillError) as exc:  # e.g. a web server cannot start on the full disk
                self.report.problems.append(f"writer of {node_id} could not be restarted: {exc}")
            self.report.restarts[self._writer_name(node_id)] += 1
        return answer

    def _outcome(self, kind: str, answer: dict | None, node: str) -> bool:
        self.report.ops_by_kind[kind] += 1
        if answer is None:
            self.report.counts["unknown (writer died)"] += 1
            return False
        if answer["ok"]:
            self.report.counts["acknowledged"] += 1
            return True
        if answer["outcome"] == "failed" and self.disk is not None and self.disk.full and node == self.config.disk_node:
            self.report.counts["failed: disk full"] += 1
            error = answer.get("error", "").splitlines()[0][:160]
            if not any(m in error for m in DISK_ERRORS):
                error = f"unclear: {error}"
            self.disk_errors[error] += 1
        elif answer["outcome"] == "refused":
            self.report.counts["refused (409/422/404)"] += 1
        else:
            # Neither a refusal nor the full disk: what a user would see as a 500. Always a problem.
            self.report.counts["failed: other"] += 1
            if self.report.counts["failed: other"] <= 5:
                self.report.problems.append(f"{kind} on {node} failed: {answer.get('error')}\n"
                                            f"{answer.get('trace', '')[-600:]}")
        return False

    def operation(self, i: int, rng: random.Random) -> None:
        kinds, weights = zip(*OP_WEIGHTS.items(), strict=True)
        kind = rng.choices(kinds, weights)[0]
        open_cases = self.ledger.open_cases()
        pick = rng.random()
        if kind == "answer":
            inbox = self._ask("damkar-1", {"op": "inbox", "agency": "DAMKAR"})
            items = (inbox or {}).get("dispatches") or []
            if items:
                dispatch_id = items[int(pick * len(items))][0]
                answer = self._ask("damkar-1", {"op": "answer", "user": "dk-1", "dispatch": dispatch_id})
                if self._outcome(kind, answer, "damkar-1"):
                    case = next((c for c in self.ledger.cases.values() if dispatch_id in c.status
                                 or dispatch_id in c.dispatches.values()), None)
                    if case is not None:
                        self.ledger.acked_status(case, dispatch_id, answer["status"])
                return
            kind = "create"
        if kind in ("dispatch", "close", "edit") and not open_cases:
            kind = "create"
        if kind == "create":
            node = rng.choice(POSKO)
            kecamatan = KECAMATAN[node] if rng.random() < 0.8 else KECAMATAN[POSKO[1 - POSKO.index(node)]]
            agencies = ["DAMKAR"] if rng.random() < 0.75 else []
            if agencies and rng.random() < 0.4:
                agencies.append("POLRES")
            address = f"Jl. Latihan {i}"
            answer = self._ask(node, {"op": "create", "user": USERS[node][0], "kecamatan": kecamatan,
                                      "address": address, "agencies": agencies, "desa": f"Desa {i % 50}"})
            if self._outcome(kind, answer, node):
                case = Case(answer["incident"], node, kecamatan, answer["call"], address, last_write_op=i)
                for code, dispatch_id in answer["dispatches"].items():
                    case.dispatches[code] = dispatch_id
                    case.dispatch_origin[dispatch_id] = node
                self.ledger.add(case)
            return
        case = open_cases[int(pick * len(open_cases))]
        if kind == "dispatch":
            agencies = [c for c in ("DAMKAR", "POLRES") if c not in case.dispatches] or ["DAMKAR"]
            answer = self._ask(case.origin, {"op": "dispatch", "user": USERS[case.origin][0], "incident": case.id,
                                             "agencies": agencies})
            if self._outcome(kind, answer, case.origin):
                for code, dispatch_id in answer["dispatches"].items():
                    case.dispatches[code] = dispatch_id
                    case.dispatch_origin[dispatch_id] = case.origin
        elif kind == "close":
            answer = self._ask(case.origin, {"op": "close", "user": USERS[case.origin][0], "incident": case.id})
            if self._outcome(kind, answer, case.origin):
                case.closed = True
        else:  # edit the address where the case is held: its posko, central, or the other posko
            holders = self._editors(case)
            # Most edits go to a case whose last write has had time to replicate, on another node than
            # that write's (the slow-clock node first): causal chains across nodes, where the HLC must win.
            ripe = [c for c in open_cases if c.causal and i - c.last_write_op >= RIPE_OPS]
            if ripe and rng.random() < 0.7:
                case = ripe[int(rng.random() * len(ripe))]
                holders = [n for n in self._editors(case) if n != (case.writers or [case.origin])[-1]]
                if self.config.skew_node in holders and rng.random() < 0.5:
                    holders = [self.config.skew_node]
            where = rng.choice(holders)
            address = f"Jl. Edit {i} ({where})"
            answer = self._ask(where, {"op": "edit", "user": USERS[where][0], "incident": case.id,
                                       "address": address})
            if self._outcome(kind, answer, where):
                self.ledger.edited(case, address, answer["before"], where)
                case.last_write_op = i
            elif answer is None or answer.get("outcome") != "refused":
                self.ledger.unknown(case)

    def _writer_name(self, node_id: str) -> str:
        return f"{'web server' if node_id == self.config.http_node else 'writer'} {node_id}"

    @staticmethod
    def _editors(case: Case) -> list[str]:
        """Nodes that hold the case and may edit it: its posko, central, the posko of its kecamatan."""
        return [case.origin, "central"] + [p for p in POSKO if p != case.origin and KECAMATAN[p] == case.kecamatan]

    # --- faults ----------------------------------------------------------------------------

    def _disk_full(self, node_id: str) -> bool:
        return self.disk is not None and self.disk.full and node_id == self.config.disk_node

    def _busy(self, kind: str, target: str) -> bool:
        return any(f.target == target and (f.kind == kind or kind.startswith("link") and f.kind.startswith("link"))
                   for f in self.active)

    def inject(self, i: int, rng: random.Random) -> None:
        if not self.deck:  # a shuffled deck of the fault kinds: every kind comes once per round
            self.deck = list(self.config.kinds)
            self.rng.shuffle(self.deck)
        kind = self.deck.pop()
        target = rng.choice(list(self.net.nodes))
        length = rng.randint(*self.config.fault_length)
        delay = rng.uniform(0.2, 1.5)
        if kind == "disk_full" and self.disk is None:
            return
        if kind == "disk_full":
            target = self.config.disk_node
        if kind == "broker_kill":
            target = "broker"
        if self._busy(kind, target):
            return
        if kind in ("sync_kill", "writer_kill") and self._disk_full(target):
            return  # a daemon cannot start on a full disk (opening the database writes): not this drill's point
        self.report.faults[kind] += 1
        self.log(f"  op {i}: {kind} {target}" + (f" for {length} ops" if kind not in ("writer_kill", "link_cut")
                                                   else ""))
        if kind == "broker_kill":
            self.net.broker.proc.kill()
            self.net.broker.proc.wait(10)
            self.net.broker.proc = None
        elif kind == "sync_kill":
            self.net.kill_sync(target)
        elif kind == "writer_kill":
            self._kill_writer_mid_request(target, rng)
            return
        elif kind == "link_cut":
            self.proxies[target].cut()
            return
        elif kind == "link_down":
            self.proxies[target].set_mode(Mode.DOWN)
        elif kind == "link_blackhole":
            self.proxies[target].set_mode(Mode.BLACKHOLE)
        elif kind == "link_delay":
            self.proxies[target].set_mode(Mode.DELAY, delay)
        elif kind == "disk_full":
            self.disk.fill()
        self.active.append(ActiveFault(kind, target, i + length))

    def _kill_writer_mid_request(self, node_id: str, rng: random.Random) -> None:
        """Send the node's writer a write and kill -9 it a moment later (committed or not: unknown)."""
        worker = self.workers[node_id]
        if not worker.alive():
            worker.start()
        if node_id == "damkar-1":
            inbox = (worker.request({"op": "inbox", "agency": "DAMKAR"}) or {}).get("dispatches") or [["none", ""]]
            request = {"op": "answer", "user": "dk-1", "dispatch": rng.choice(inbox)[0]}
        else:
            request = {"op": "create", "user": USERS[node_id][0], "kecamatan": "Bengkalis", "address": "Jl. Kill",
                       "agencies": ["DAMKAR"]}
        worker.send(request)
        time.sleep(rng.uniform(0.0, 0.03))
        worker.kill()
        self.report.counts["unknown (writer killed mid-request)"] += 1
        worker.start()
        self.report.restarts[self._writer_name(node_id)] += 1

    def heal(self, fault: ActiveFault) -> None:
        if fault.kind == "broker_kill":
            self._start_broker()
            self.report.restarts["broker"] += 1
        elif fault.kind == "sync_kill":
            self.net.start_sync(fault.target, **self.env(fault.target))
            self.report.restarts[f"sync {fault.target}"] += 1
        elif fault.kind.startswith("link"):
            self.proxies[fault.target].set_mode(Mode.PASS)
        elif fault.kind == "disk_full":
            self.disk.free()
            answer = self._ask(fault.target, {"op": "ping"})
            if answer is None:
                self.report.problems.append(f"writer of {fault.target} did not answer after the disk was freed")

    def _start_broker(self) -> None:
        """Start Mosquitto again on its port. Not LocalBroker.start(): its free-port check binds without
        SO_REUSEADDR and fails for a minute after a kill -9 (TIME_WAIT), while Mosquitto itself binds fine."""
        broker = self.net.broker
        if broker.alive():
            return
        prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        broker.proc = spawn([*prefix, MOSQUITTO, "-c", str(broker.conf)], broker.log_path)
        wait_port(broker.port, broker.proc, 30, "mosquitto", broker.log, broker.host)

    def watch(self, i: int) -> None:
        """Restart what died without being killed. A sync daemon of the full-disk node that exited
        with a disk error is what systemd restarts (Restart=always): restarted once there is space,
        and counted apart. Anything else is a crash, and a problem."""
        for name in self.net.dead_processes():
            node_id = name.split()[0]
            if name == "broker":
                code = self.net.broker.proc.returncode
                self.net.broker.proc = None
                self._start_broker()
            else:
                node = self.net.nodes[node_id]
                code = node.sync_proc.returncode
                node.sync_proc = None
                tail = node.sync_log.read_text(errors="replace")[-4000:] if node.sync_log.exists() else ""
                if node_id == self.config.disk_node and any(m in tail for m in DISK_ERRORS):
                    when = "at start-up" if "_open(data_dir)" in tail else "while running"
                    self.report.restarts[f"sync {node_id} (exited {when} on the full disk)"] += 1
                    self.pending_sync.add(node_id)
                    continue
                self.net.start_sync(node_id, **self.env(node_id))
            self.report.crashes.append(name)
            self.report.problems.append(f"{name} died on its own at operation {i} (exit status {code}):\n"
                                        + self.net.logs(1500))
        for node_id in list(self.pending_sync):
            if not self._disk_full(node_id):
                self.pending_sync.discard(node_id)
                self.net.start_sync(node_id, **self.env(node_id))

    # --- the run ---------------------------------------------------------------------------

    def run(self, inspect: Callable[[Drill], None] | None = None) -> Report:
        """Set up, operate under faults, heal, wait for convergence, check; `inspect(drill)` runs
        after the check, before everything is stopped (tests use it to tamper and re-check)."""
        cfg = self.config
        try:
            self.setup()
            self.log(f"fault drill: seed {cfg.seed}, {cfg.ops} operations, faults {', '.join(cfg.kinds)}")
            started = time.monotonic()
            next_fault = self.rng.randint(*cfg.fault_every)
            for i in range(cfg.ops):
                if cfg.minutes is not None and time.monotonic() - started > cfg.minutes * 60:
                    self.report.notes.append(f"stopped after {i} operations ({cfg.minutes} minutes)")
                    break
                step = random.Random(f"{cfg.seed}/{i}")  # per-operation stream: a seed replays the same choices
                for fault in [f for f in self.active if f.heal_at <= i]:
                    if fault.kind == "sync_kill" and self._disk_full(fault.target):
                        fault.heal_at = i + 10  # a daemon cannot start on a full disk: wait for the space
                        continue
                    self.active.remove(fault)
                    self.heal(fault)
                if i >= next_fault:
                    self.inject(i, step)
                    next_fault = i + self.rng.randint(*cfg.fault_every)
                self.operation(i, step)
                if i % 10 == 0:
                    self.watch(i)
                pause = (i + 1) / cfg.rate - (time.monotonic() - started)
                if pause > 0:
                    time.sleep(pause)
            self.report.run_seconds = time.monotonic() - started
            self.heal_all()
            self.converge()
            self.watch(cfg.ops)
            if cfg.skew_node and self.report.ok:
                self.probe_causality()
            chains, slow = self.ledger.causal_chains(cfg.skew_node)
            self.report.checks["causal edit chains checked (last edit wins)"] = chains
            self.report.checks[f"  of which the last edit came from slow {cfg.skew_node}"] = slow
            for error, n in self.disk_errors.most_common():
                self.report.notes.append(f"disk full on {cfg.disk_node}: {n} write(s) failed with {error}")
            if inspect is not None:
                inspect(self)
        finally:
            self.teardown()
        return self.report

    def heal_all(self) -> None:
        for fault in sorted(self.active, key=lambda f: f.kind != "disk_full"):  # space first, then daemons
            self.heal(fault)
        self.active.clear()
        self.watch(self.config.ops)
        for node_id in self.net.nodes:
            if not self.net.sync_alive(node_id):
                self.net.start_sync(node_id, **self.env(node_id))
            if not self.workers[node_id].alive():
                self.workers[node_id].start()

    def verdict(self) -> tuple[Verdict, list[str]]:
        views = {node_id: read_node(node.db_path, node_id, node.role, node.agency, node.areas)
                 for node_id, node in self.net.nodes.items()}
        verdict = compare(views)
        return verdict, verdict.problems + check_ledger(self.ledger, views)

    def probe_causality(self, n: int = 5) -> None:
        """After healing: central edits a few of the slow node's cases, the slow node sees each edit and
        edits again. Its edits carry an older wall clock yet must win everywhere (checked by converge)."""
        slow = self.config.skew_node
        cases = [c for c in self.ledger.open_cases()
                 if c.causal and (c.origin == slow or c.kecamatan == KECAMATAN.get(slow))][:n]
        for case in cases:
            address = f"Jl. Pusat (uji {case.id[-4:]})"
            answer = self._ask("central", {"op": "edit", "user": USERS["central"][0], "incident": case.id,
                                           "address": address})
            if answer and answer["ok"]:
                self.ledger.edited(case, address, answer["before"], "central")
            else:
                self.ledger.unknown(case)
        cases = [c for c in cases if c.causal]

        def seen() -> bool:
            return all((self._ask(slow, {"op": "address", "incident": c.id}) or {}).get("address") == c.address
                       for c in cases)

        self.net.wait_for(seen, timeout=self.config.converge_timeout, what=f"central's edits at {slow}")
        for case in cases:
            address = f"Jl. Benar (uji {case.id[-4:]})"
            answer = self._ask(slow, {"op": "edit", "user": USERS[slow][0], "incident": case.id, "address": address})
            if answer and answer["ok"]:
                self.ledger.edited(case, address, answer["before"], slow)
        self.report.checks[f"causal probes: {slow} edits after central's"] = sum(c.causal for c in cases)
        self.converge()

    def converge(self) -> None:
        healed = time.monotonic()
        deadline = healed + self.config.converge_timeout
        while True:
            verdict, problems = self.verdict()
            if not problems:
                if self.report.converge_seconds is None:  # the first convergence, right after healing
                    self.report.converge_seconds = time.monotonic() - healed
                break
            if time.monotonic() > deadline:
                self.report.problems.extend(problems)
                self.report.problems.append(f"not converged {self.config.converge_timeout:.0f}s after healing; "
                                            f"logs:\n{self.net.logs(2500)}")
                break
            time.sleep(1.0)
        self.report.verdict = verdict
