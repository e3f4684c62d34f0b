"""What central's live overview shows: every open case of the regency, each node's sync state,
and the SOP timers past their standard.

Why it exists: the board and the map read the same figures, built here once from the posko
board's own rules (edge.services.board.open_cases for the cases and their SOP timers,
sync.status.node_status for the peers central talks to), so central never computes a case's
state differently from the posko that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from peewee import fn

from edge.models import Incident
from edge.services.board import CaseRow, open_cases
from edge.services.sop import StepTimer, TimerState
from edge.timeutil import utcnow
from sync.models import SyncPending
from sync.rejoin import returning
from sync.status import PeerStatus, node_status

BREACHED = (TimerState.RED, TimerState.LATE)  # running past the standard, or done past it


@dataclass
class OverviewCase:
    row: CaseRow
    age_seconds: float

    @property
    def incident(self) -> Incident:
        return self.row.incident

    @property
    def posko(self) -> str:
        """The node that recorded the case (every replicated row keeps its creator)."""
        return self.row.incident.node

    @property
    def breaches(self) -> list[StepTimer]:
        return [t for t in self.row.timers if t.state in BREACHED]

    @property
    def located(self) -> bool:
        return self.incident.latitude is not None and self.incident.longitude is not None


@dataclass
class NodeRow:
    node: str
    peer: PeerStatus | None  # None: central has never heard from it
    open_cases: int = 0
    rejoining: bool = False  # restored or rebuilt: central is giving its records back (sync/rejoin.py)
    parked: int = 0  # changes received from it that cannot apply here (sync_pending)

    @property
    def online(self) -> bool:
        return bool(self.peer and self.peer.online)

    @property
    def backlog(self) -> int:
        return self.peer.backlog if self.peer else 0

    @property
    def last_contact(self) -> datetime | None:
        return self.peer.last_contact if self.peer else None


@dataclass
class Overview:
    cases: list[OverviewCase]
    nodes: list[NodeRow]
    sync_enabled: bool
    generated_at: datetime
    by_posko: dict[str, int] = field(default_factory=dict)

    @property
    def breach_count(self) -> int:
        """SOP timers past their standard, over all open cases."""
        return sum(len(c.breaches) for c in self.cases)

    @property
    def breached_cases(self) -> int:
        return sum(1 for c in self.cases if c.breaches)

    @property
    def offline_nodes(self) -> int:
        return sum(1 for n in self.nodes if not n.online)


def build_overview(now: datetime | None = None) -> Overview:
    """Open cases (most urgent first, as on the posko board) and the nodes central syncs with."""
    now = now or utcnow()
    cases = [OverviewCase(row, (now - row.incident.recorded_at).total_seconds()) for row in open_cases(now)]
    by_posko: dict[str, int] = {}
    for case in cases:
        by_posko[case.posko] = by_posko.get(case.posko, 0) + 1
    status = node_status()
    nodes = {p.node: NodeRow(p.node, p) for p in status.peers}
    for posko in by_posko:
        nodes.setdefault(posko, NodeRow(posko, None))
    parked = dict(SyncPending.select(SyncPending.via, fn.COUNT(SyncPending.id)).group_by(SyncPending.via).tuples())
    for row in nodes.values():
        row.open_cases = by_posko.get(row.node, 0)
        row.rejoining = returning(row.node) is not None
        row.parked = parked.get(row.node, 0)
    return Overview(cases, sorted(nodes.values(), key=lambda n: n.node), status.enabled, now, by_posko)


def map_features(overview: Overview, type_name, case_url) -> list[dict]:
    """GeoJSON points for the open cases that have coordinates (the map's markers)."""
    features = []
    for case in overview.cases:
        if not case.located:
            continue
        inc = case.incident
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [inc.longitude, inc.latitude]},
            "properties": {
                "id": inc.id, "case_no": inc.case_no, "priority": inc.priority,
                "type": f"{inc.incident_type} · {type_name(inc.incident_type)}",
                "posko": case.posko, "kecamatan": inc.kecamatan, "desa": inc.desa,
                "status": inc.status, "worst": case.row.worst.value, "breaches": len(case.breaches),
                "age_minutes": int(case.age_seconds // 60), "url": case_url(inc.id),
            },
        })
    return features
