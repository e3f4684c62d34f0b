"""The drill's report: counts of operations, faults and restarts, the verdict, and the printed table.

Why it exists: `make test-faults` and the short test print the same table, and the test asserts on
the same counts; keeping the figures and their layout in one place keeps both honest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.faults.check import Verdict


@dataclass
class Report:
    seed: int
    counts: Counter = field(default_factory=Counter)  # operations by outcome
    ops_by_kind: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    restarts: Counter = field(default_factory=Counter)
    checks: dict[str, int] = field(default_factory=dict)  # what the verdict covered, beyond the rows
    crashes: list[str] = field(default_factory=list)  # processes that died without being killed
    notes: list[str] = field(default_factory=list)
    converge_seconds: float | None = None
    run_seconds: float = 0.0
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        lines = [f"fault drill, seed {self.seed} (replay: python -m tests.faults --seed {self.seed} ...)", ""]
        counters = (self.counts, self.ops_by_kind, self.faults, self.restarts, self.checks)
        width = max([34, *(len(str(k)) for c in counters for k in c)])

        def section(title: str, counter: Counter | dict) -> None:
            lines.append(title)
            for key, value in sorted(counter.items()):
                lines.append(f"  {key:<{width}} {value:>8}")

        section("operations", {"attempted": sum(self.counts.values()), **self.counts})
        section("operations by kind", self.ops_by_kind)
        section("faults injected", self.faults)
        section("restarts", self.restarts or {"(none)": 0})
        lines.append("result")
        lines.extend(f"  {k:<{width}} {v:>8}" for k, v in self.checks.items())
        lines.append(f"  {'operations phase (s)':<{width}} {self.run_seconds:>8.1f}")
        converge = f"{self.converge_seconds:.1f}" if self.converge_seconds is not None else "never"
        lines.append(f"  {'time to converge after heal (s)':<{width}} {converge:>8}")
        lines.append(f"  {'processes crashed':<{width}} {len(self.crashes):>8}")
        if self.verdict is not None:
            for node, rows in self.verdict.rows.items():
                lines.append(f"  {'case rows on ' + node:<{width}} {rows:>8}  hash {self.verdict.hashes.get(node, '')}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append("verdict: " + ("OK, nothing lost, nothing doubled, all converged" if self.ok else
                                    f"{len(self.problems)} problem(s)"))
        lines.extend(f"  - {p}" for p in self.problems[:40])
        return "\n".join(lines)
