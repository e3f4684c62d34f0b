"""The drill's checker on hand-made node contents: it must see each kind of damage it claims to."""

from __future__ import annotations

import copy
import json

from edge.ids import stable_id
from tests.faults.check import CASE_TABLES, NodeView, check_ledger, compare
from tests.faults.ledger import Case, Ledger

DAMKAR, POLRES = stable_id("agency", "DAMKAR"), stable_id("agency", "POLRES")


def row(node: str, **cols) -> dict:
    return {"node": node, **cols}


def regency() -> dict[str, NodeView]:
    """A case of posko-a in Bantan (so posko-b holds it too) dispatched to Damkar and Polres."""
    incident = {"i1": row("posko-a", kecamatan="Bantan", address="Jl. 1", status="dispatched")}
    call = {"c1": row("posko-a", incident_id="i1")}
    dispatch = {"d1": row("posko-a", incident_id="i1", agency_id=DAMKAR, status="acknowledged"),
                "d2": row("posko-a", incident_id="i1", agency_id=POLRES, status="sent")}
    event = {"e1": row("posko-a", incident_id="i1", detail=json.dumps({"case_no": "1"})),
             "e2": row("posko-a", incident_id="i1", detail=json.dumps({"agency": "DAMKAR"})),
             "e3": row("posko-a", incident_id="i1", detail=json.dumps({"agency": "POLRES"})),
             "e4": row("damkar-1", incident_id="i1", detail=json.dumps({"agency": "DAMKAR"}))}
    full = {"incident": incident, "call": call, "dispatch": dispatch, "event": event}
    without_call = {**full, "call": {}}
    station = {"incident": incident, "call": {}, "dispatch": {"d1": dispatch["d1"]},
               "event": {k: event[k] for k in ("e1", "e2", "e4")}}
    views = {}
    for node, role, agency, areas, rows in (("central", "central", None, (), full),
                                            ("posko-a", "posko", None, ("Bengkalis",), full),
                                            ("posko-b", "posko", None, ("Bantan",), without_call),
                                            ("damkar-1", "agency", "DAMKAR", (), station)):
        view = NodeView(node, role, agency, areas, copy.deepcopy({t: rows[t] for t in CASE_TABLES}))
        view.duplicates = {"sync_change (origin, origin_seq)": 0}
        views[node] = view
    return views


def ledger() -> Ledger:
    led = Ledger()
    case = Case("i1", "posko-a", "Bantan", "c1", "Jl. 1", dispatches={"DAMKAR": "d1", "POLRES": "d2"})
    case.status["d1"] = "acknowledged"
    led.add(case)
    return led


def test_a_converged_regency_passes():
    views = regency()
    assert compare(views).problems == []
    assert check_ledger(ledger(), views) == []


def test_each_kind_of_damage_is_reported():
    views = regency()
    del views["damkar-1"].rows["dispatch"]["d1"]  # lost on the station
    views["posko-b"].rows["incident"]["i1"]["address"] = "Jl. lain"  # diverged
    views["damkar-1"].rows["event"]["e3"] = views["central"].rows["event"]["e3"]  # another agency's entry leaked
    views["posko-a"].rows["event"]["e9"] = row("posko-a", incident_id="i1", detail="{}")  # never reached central
    views["posko-b"].duplicates["sync_change (origin, origin_seq)"] = 2
    problems = "\n".join(compare(views).problems)
    assert "damkar-1 lacks 1 dispatch row(s): d1" in problems
    assert "posko-b differs from central on 1 incident row(s): i1; e.g. i1: columns ['address']" in problems
    assert "damkar-1 holds 1 event row(s): e3 it should not (routing)" in problems
    assert "posko-a holds 1 event row(s): e9 that central lacks" in problems
    assert "posko-b: 2 duplicated sync_change (origin, origin_seq)" in problems


def test_the_ledger_check_sees_a_lost_promise():
    views = regency()
    led = ledger()
    led.cases["i1"].status["d1"] = "on_scene"  # the station was told on_scene, the nodes hold less
    led.cases["i1"].closed = True
    led.edited(led.cases["i1"], "Jl. 2", "Jl. 1")  # a causal edit whose value is nowhere
    problems = "\n".join(check_ledger(led, views))
    assert "dispatch d1: acknowledged 'on_scene' but 'acknowledged' on central" in problems
    assert "case i1 acknowledged closed but 'dispatched' on damkar-1" in problems
    assert "the causally last address 'Jl. 2' lost on posko-b" in problems
    del views["central"].rows["incident"]["i1"]
    assert "acknowledged case i1 (from posko-a) missing on central" in "\n".join(check_ledger(led, views))


def test_a_concurrent_edit_breaks_the_causal_chain():
    led = ledger()
    case = led.cases["i1"]
    led.edited(case, "Jl. 2", "Jl. 1")
    assert case.causal
    led.edited(case, "Jl. 3", "Jl. 1")  # made on a node that had not seen "Jl. 2"
    assert not case.causal
