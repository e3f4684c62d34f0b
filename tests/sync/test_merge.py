"""Property tests: the merge is commutative, associative and idempotent, and respects its rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.merge import Change, fold, merge, values

NODES = ["central", "posko-a", "posko-b", "damkar-1"]
STATUSES = ["sent", "received", "acknowledged", "prepared", "en_route", "on_scene", "finished"]


@st.composite
def changes(draw, max_size=30):
    out = []
    seqs = dict.fromkeys(NODES, 0)
    for _ in range(draw(st.integers(0, max_size))):
        origin = draw(st.sampled_from(NODES))
        seqs[origin] += 1
        tbl = draw(st.sampled_from(["incident", "dispatch"]))
        pk = draw(st.sampled_from(["r1", "r2"]))
        cols = draw(st.lists(st.sampled_from(["status", "address", "en_route_at", "victims_count"]),
                             min_size=1, max_size=3, unique=True))
        data = {}
        for col in cols:
            if col == "status":
                data[col] = draw(st.sampled_from(STATUSES if tbl == "dispatch" else
                                                 ["recorded", "dispatched", "handling", "closed"]))
            elif col == "en_route_at":
                data[col] = draw(st.one_of(st.none(), st.sampled_from(["2026-11-25 01:00:00", "2026-11-25 02:00:00"])))
            else:
                data[col] = draw(st.one_of(st.integers(0, 5), st.text(max_size=3)))
        hlc = draw(st.integers(0, 2**20))  # small range: many ties on hlc
        out.append(Change(origin, seqs[origin], hlc, tbl, pk, "update", data))
    return out


@settings(max_examples=300)
@given(changes(), st.randoms())
def test_order_does_not_matter(chs, rnd):
    shuffled = list(chs)
    rnd.shuffle(shuffled)
    assert values(fold(chs)) == values(fold(shuffled))


@settings(max_examples=200)
@given(changes(max_size=40), st.randoms())
def test_merge_is_commutative_associative_idempotent(all_changes, rnd):
    # Three nodes' knowledge: overlapping subsets of one history (a change id is unique).
    a, b, c = ([ch for ch in all_changes if rnd.random() < 0.5] for _ in range(3))
    sa, sb, sc = fold(a), fold(b), fold(c)
    assert values(merge(sa, sb)) == values(merge(sb, sa))
    assert values(merge(sa, merge(sb, sc))) == values(merge(merge(sa, sb), sc))
    assert values(merge(sa, sa)) == values(sa)
    assert values(fold(a + a)) == values(fold(a))


@given(changes())
def test_dispatch_status_never_moves_back(chs):
    state = values(fold(chs))
    for (tbl, pk), row in state.items():
        if tbl == "dispatch" and "status" in row:
            seen = [c.data["status"] for c in chs if c.tbl == tbl and c.pk == pk and "status" in c.data]
            assert STATUSES.index(row["status"]) == max(STATUSES.index(s) for s in seen)


def test_closed_incident_stays_closed_against_a_later_edit():
    close = Change("posko-a", 1, 100, "incident", "i1", "update", {"status": "closed"})
    late = Change("posko-b", 1, 200, "incident", "i1", "update", {"status": "handling"})
    assert values(fold([close, late]))[("incident", "i1")]["status"] == "closed"
    assert values(fold([late, close]))[("incident", "i1")]["status"] == "closed"


def test_last_writer_wins_by_hlc_not_by_arrival():
    older = Change("posko-a", 5, 100, "incident", "i1", "update", {"address": "Jl. Lama"})
    newer = Change("posko-b", 1, 101, "incident", "i1", "update", {"address": "Jl. Baru"})
    assert values(fold([newer, older]))[("incident", "i1")]["address"] == "Jl. Baru"


def test_step_time_is_not_erased_by_an_empty_value():
    set_ = Change("damkar-1", 1, 100, "dispatch", "d1", "update", {"en_route_at": "2026-11-25 01:00:00"})
    empty = Change("posko-a", 1, 200, "dispatch", "d1", "update", {"en_route_at": None})
    assert values(fold([set_, empty]))[("dispatch", "d1")]["en_route_at"] == "2026-11-25 01:00:00"
