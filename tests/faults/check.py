"""The drill's verdict: read every node's SQLite file and say what is lost, doubled or different.

Why it exists: after the faults are healed, "converged" must mean something precise. Central
is the hub and holds every replicated row; each other node must hold exactly the rows the
routing rules (sync/routing.py, restated here independently) give it, each equal to central's
copy; every acknowledged write (tests/faults/ledger.py) must be on every node it belongs to.
Files are read with plain sqlite3, read-only, so the check binds no models and works while
the daemons run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from edge.ids import stable_id
from tests.faults.ledger import STATUS_RANK, Ledger

CASE_TABLES = ("incident", "call", "dispatch", "event")


@dataclass
class NodeView:
    """The case tables of one node: table -> id -> {column: value}."""

    node: str
    role: str
    agency: str | None
    areas: tuple[str, ...]
    rows: dict[str, dict[str, dict]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)

    def ids(self, table: str) -> set[str]:
        return set(self.rows[table])


DUPLICATE_QUERIES = {
    "sync_change (origin, origin_seq)": "SELECT COUNT(*) FROM (SELECT 1 FROM sync_change GROUP BY origin, origin_seq "
                                        "HAVING COUNT(*) > 1)",
    "event (node, seq)": "SELECT COUNT(*) FROM (SELECT 1 FROM event GROUP BY node, seq HAVING COUNT(*) > 1)",
    "dispatch (incident, agency)": "SELECT COUNT(*) FROM (SELECT 1 FROM dispatch GROUP BY incident_id, agency_id "
                                   "HAVING COUNT(*) > 1)",
}


def read_node(db_path: Path, node: str, role: str, agency: str | None, areas: tuple[str, ...] | list[str]) -> NodeView:
    view = NodeView(node, role, agency, tuple(areas))
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as con:
        for table in CASE_TABLES:
            cursor = con.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            view.rows[table] = {row[names.index("id")]: dict(zip(names, row, strict=True)) for row in cursor}
        for what, query in DUPLICATE_QUERIES.items():
            view.duplicates[what] = con.execute(query).fetchone()[0]
    return view


def expected_ids(ref: NodeView, view: NodeView) -> dict[str, set[str]]:
    """The ids `view`'s node should hold, from central's rows `ref` (the routing rules, restated)."""
    node = view.node
    own = {t: {i for i, r in ref.rows[t].items() if r["node"] == node} for t in CASE_TABLES}
    if view.role == "posko":
        incidents = {i for i, r in ref.rows["incident"].items() if r["node"] == node or (r["kecamatan"] or "")
                     in view.areas}
        return {
            "incident": incidents | own["incident"],
            "call": own["call"],
            "dispatch": {i for i, r in ref.rows["dispatch"].items() if r["incident_id"] in incidents} | own["dispatch"],
            "event": {i for i, r in ref.rows["event"].items() if r["incident_id"] in incidents} | own["event"],
        }
    if view.role == "agency":
        agency_id = stable_id("agency", view.agency or "")
        dispatches = {i for i, r in ref.rows["dispatch"].items() if r["agency_id"] == agency_id}
        incidents = {ref.rows["dispatch"][d]["incident_id"] for d in dispatches}
        events = {i for i, r in ref.rows["event"].items() if r["incident_id"] in incidents
                  and json.loads(r["detail"] or "{}").get("agency") in (None, view.agency)}
        return {"incident": incidents | own["incident"], "call": own["call"], "dispatch": dispatches | own["dispatch"],
                "event": events | own["event"]}
    raise ValueError(f"no routing rule for role {view.role}")


def rows_hash(rows: dict[str, dict], ids: set[str]) -> str:
    digest = hashlib.sha256()
    for i in sorted(ids):
        row = rows.get(i)
        digest.update(json.dumps(sorted(row.items()) if row else None, default=str).encode())
    return digest.hexdigest()


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # node -> hash of its case rows ("=" when equal)
    rows: dict[str, int] = field(default_factory=dict)  # node -> case rows held

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(table: str, ids: set[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(ids)[:limit])
    return f"{len(ids)} {table} row(s): {shown}{' ...' if len(ids) > limit else ''}"


def compare(views: dict[str, NodeView], central: str = "central") -> Verdict:
    """Convergence: central holds the union with no duplicates; every other node exactly its share, equal."""
    verdict = Verdict()
    ref = views[central]
    for view in views.values():
        verdict.rows[view.node] = sum(len(view.rows[t]) for t in CASE_TABLES)
        for what, n in view.duplicates.items():
            if n:
                verdict.problems.append(f"{view.node}: {n} duplicated {what}")
        if view.node == central:
            continue
        for table in CASE_TABLES:
            unknown = view.ids(table) - ref.ids(table)
            if unknown:
                verdict.problems.append(f"{view.node} holds {_describe(table, unknown)} that central lacks")
        wanted = expected_ids(ref, view)
        node_digest, ref_digest = hashlib.sha256(), hashlib.sha256()
        for table in CASE_TABLES:
            missing = wanted[table] - view.ids(table)
            extra = view.ids(table) - wanted[table] - (view.ids(table) - ref.ids(table))
            if missing:
                verdict.problems.append(f"{view.node} lacks {_describe(table, missing)}")
            if extra:
                verdict.problems.append(f"{view.node} holds {_describe(table, extra)} it should not (routing)")
            different = {i for i in wanted[table] & view.ids(table) if view.rows[table][i] != ref.rows[table][i]}
            if different:
                sample = sorted(different)[0]
                cols = sorted(c for c in ref.rows[table][sample] if view.rows[table][sample].get(c) !=
                              ref.rows[table][sample][c])
                verdict.problems.append(f"{view.node} differs from central on {_describe(table, different)}; "
                                        f"e.g. {sample}: columns {cols}")
            node_digest.update(rows_hash(view.rows[table], view.ids(table)).encode())
            ref_digest.update(rows_hash(ref.rows[table], wanted[table]).encode())
        verdict.hashes[view.node] = node_digest.hexdigest()[:12]
        if node_digest.digest() != ref_digest.digest():
            verdict.hashes[view.node] += " (central's: " + ref_digest.hexdigest()[:12] + ")"
    verdict.hashes[central] = rows_hash({f"{t}/{i}": r for t in CASE_TABLES for i, r in ref.rows[t].items()},
                                        {f"{t}/{i}" for t in CASE_TABLES for i in ref.rows[t]})[:12]
    return verdict


def holders(case_origin: str, kecamatan: str, agencies: set[str], views: dict[str, NodeView]) -> list[str]:
    """Nodes a case belongs on: its origin, central, posko covering its kecamatan, stations dispatched."""
    out = []
    for view in views.values():
        if (view.node == case_origin or view.role == "central" or (view.role == "posko" and kecamatan in view.areas)
                or (view.role == "agency" and view.agency in agencies)):
            out.append(view.node)
    return out


def check_ledger(ledger: Ledger, views: dict[str, NodeView]) -> list[str]:
    """Every acknowledged write on every node it belongs to, with at least the acknowledged effect."""
    problems: list[str] = []
    for case in ledger.cases.values():
        for node in holders(case.origin, case.kecamatan, set(case.dispatches), views):
            view = views[node]
            incident = view.rows["incident"].get(case.id)
            if incident is None:
                problems.append(f"acknowledged case {case.id} (from {case.origin}) missing on {node}")
                continue
            if case.closed and incident["status"] != "closed":
                problems.append(f"case {case.id} acknowledged closed but {incident['status']!r} on {node}")
            if case.causal and case.edits and incident["address"] != case.address:
                problems.append(f"case {case.id}: the causally last address {case.address!r} lost on {node} "
                                f"(holds {incident['address']!r})")
            for code, dispatch_id in case.dispatches.items():
                if view.role == "agency" and view.agency != code:
                    continue
                row = view.rows["dispatch"].get(dispatch_id)
                if row is None:
                    problems.append(f"acknowledged dispatch {dispatch_id} ({code}) of case {case.id} missing on {node}")
                    continue
                acked = case.status.get(dispatch_id)
                if acked and STATUS_RANK[row["status"]] < STATUS_RANK[acked]:
                    problems.append(f"dispatch {dispatch_id}: acknowledged {acked!r} but {row['status']!r} on {node}")
        if case.call not in views["central"].rows["call"]:
            problems.append(f"call {case.call} of case {case.id} missing on central")
    return problems
