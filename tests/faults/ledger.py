"""What the drill knows it was promised: every acknowledged write, per case.

Why it exists: "nothing acknowledged is lost" can only be checked against a record kept by the
side that received the acknowledgements. The drill writes here exactly when a worker answered
ok (after the commit); a request whose answer never came (writer killed, disk full) is counted
as unknown and promises nothing, but it breaks the causal chain of address edits of its case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUS_RANK = {s: i for i, s in enumerate(("sent", "received", "acknowledged", "prepared", "en_route", "on_scene",
                                           "finished"))}


@dataclass
class Case:
    """One incident as acknowledged to the drill."""

    id: str
    origin: str
    kecamatan: str
    call: str
    address: str  # the last acknowledged address of a causal chain of edits
    dispatches: dict[str, str] = field(default_factory=dict)  # agency code -> dispatch id
    dispatch_origin: dict[str, str] = field(default_factory=dict)  # dispatch id -> node that dispatched
    status: dict[str, str] = field(default_factory=dict)  # dispatch id -> furthest acknowledged status
    closed: bool = False
    # True while every address edit of the case was acknowledged and made on a node that had
    # already seen the previous one: then the last edit must win everywhere (HLC causality).
    causal: bool = True
    edits: int = 0
    writers: list[str] = field(default_factory=list)  # who wrote the address: the origin, then each editor
    last_write_op: int = 0  # the drill's operation index of the last address write (for choosing edits)


@dataclass
class Ledger:
    cases: dict[str, Case] = field(default_factory=dict)

    def add(self, case: Case) -> None:
        self.cases[case.id] = case

    def open_cases(self) -> list[Case]:
        return [c for c in self.cases.values() if not c.closed]

    def acked_status(self, case: Case, dispatch_id: str, status: str) -> None:
        if STATUS_RANK[status] > STATUS_RANK.get(case.status.get(dispatch_id, "sent"), 0):
            case.status[dispatch_id] = status

    def edited(self, case: Case, address: str, before: str | None, node: str = "") -> None:
        """An acknowledged edit on `node`; `before` is what that node held just before it."""
        case.edits += 1
        case.writers = (case.writers or [case.origin]) + [node]
        if case.causal and before == case.address:
            case.address = address
        else:
            case.causal = False
            case.address = address

    def unknown(self, case: Case | None) -> None:
        """A request about this case got no answer or failed: it may or may not have committed."""
        if case is not None:
            case.causal = False

    def causal_chains(self, slow_node: str | None) -> tuple[int, int]:
        """(cases whose last address edit must win, those of them where that edit was made on the
        slow-clock node after another node's write: wall-clock last-writer-wins would lose it)."""
        chains = [c for c in self.cases.values() if c.causal and c.edits]
        slow = [c for c in chains if slow_node and len(c.writers) >= 2 and c.writers[-1] == slow_node
                and c.writers[-2] != slow_node]
        return len(chains), len(slow)
