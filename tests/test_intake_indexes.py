"""The intake path reads through indexes, not the archive: the schema step that adds them (fresh
and upgraded nodes), and the query plans of the lookups each intake and dispatch makes inside or
next to its write transaction (related open cases, dispatch codes in use). Speed itself is shown
by bench/intake.py; here only that SQLite is told to SEARCH an index instead of SCANning a table."""

from __future__ import annotations

from datetime import timedelta

from edge.migrations import VERSION_TABLE, current_version, migrate, steps
from edge.models import Dispatch, db_proxy
from edge.services.incidents import (
    close_incident,
    codes_in_use,
    codes_in_use_query,
    codes_taken,
    codes_taken_query,
    create_incident,
    dispatch_agencies,
    recent_open_query,
    related_open_incidents,
)
from edge.services.users import get_user
from edge.timeutil import utcnow


def _step():
    return next(s for s in steps() if s.name.endswith("_intake_indexes"))


def _indexes(db, table: str) -> set[str]:
    return {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                         (table,))}


def _plan(query) -> list[str]:
    sql, params = query.sql()
    return [row[3] for row in db_proxy.obj.execute_sql("EXPLAIN QUERY PLAN " + sql, params)]


def _searches_only(plan: list[str]) -> None:
    assert plan and all(step.startswith("SEARCH") for step in plan), plan


def test_a_new_node_has_the_intake_indexes(node):
    db = db_proxy.obj
    names = _step().module.INDEXES
    assert "incident_incident_type_recorded_at" in _indexes(db, "incident") and names
    assert "dispatch_code_status" in _indexes(db, "dispatch")


def test_the_step_adds_the_indexes_to_a_node_of_the_release_before(node):
    db = db_proxy.obj
    step = _step()
    for name in step.module.INDEXES:
        db.execute_sql(f'DROP INDEX "{name}"')
    db.execute_sql(f'DELETE FROM "{VERSION_TABLE}"')
    db.execute_sql(f'INSERT INTO "{VERSION_TABLE}" (version, name, applied_at) VALUES (?, ?, ?)',
                   (step.version - 1, steps()[step.version - 2].name, "2026-11-01 00:00:00"))
    assert not {"incident_incident_type_recorded_at", "dispatch_code_status"} & (
        _indexes(db, "incident") | _indexes(db, "dispatch"))
    operator = get_user("operator")
    case = create_incident(operator, {"incident_type": 3, "desa": "Senggoro"}).incident
    dispatch_agencies(operator, case.id, ["DAMKAR"])

    assert step.name in migrate(db)
    assert current_version(db) >= step.version
    assert "incident_incident_type_recorded_at" in _indexes(db, "incident")
    assert "dispatch_code_status" in _indexes(db, "dispatch")
    assert migrate(db) == []  # once only
    assert related_open_incidents(3, "Senggoro", None, None) == [case]


def test_related_cases_are_read_through_the_type_and_time_index(node):
    plan = _plan(recent_open_query(3, utcnow(), exclude_id="x"))
    _searches_only(plan)
    assert any("incident_incident_type_recorded_at" in step and "recorded_at>" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # newest first straight from the index


def test_related_cases_are_the_same_type_open_and_recent(node):
    operator = get_user("operator")
    fire = create_incident(operator, {"incident_type": 3, "desa": "Senggoro"}).incident
    create_incident(operator, {"incident_type": 4, "desa": "Senggoro"})  # another type
    closed = create_incident(operator, {"incident_type": 3, "desa": "Senggoro"}).incident
    close_incident(operator, closed.id, {"final_report": "Padam"})
    assert related_open_incidents(3, "senggoro ", None, None) == [fire]
    assert related_open_incidents(3, "Senggoro", None, None, now=utcnow() + timedelta(hours=2)) == []


def test_a_code_in_use_is_found_from_the_code_index(node):
    _searches_only(plan := _plan(codes_taken_query(["4821", "1234"])))
    assert "dispatch_code_status" in plan[0], plan  # from the codes, not from every open case
    _searches_only(_plan(codes_in_use_query()))  # the whole set: from the open cases


def test_codes_taken_agrees_with_codes_in_use(node):
    operator = get_user("operator")
    old = create_incident(operator, {"incident_type": 3, "desa": "Senggoro"}).incident
    old_codes = {d.code for d in dispatch_agencies(operator, old.id, ["DAMKAR", "POLRES"])}
    new = create_incident(operator, {"incident_type": 3, "desa": "Kelapapati"}).incident
    sent = dispatch_agencies(operator, new.id, ["DAMKAR", "POLRES", "DINKES", "BPBD", "DISHUB"])
    new_codes = {d.code for d in sent}
    assert len(new_codes) == 5 and not new_codes & old_codes
    assert codes_in_use() == old_codes | new_codes
    free = next(str(c) for c in range(1000, 10000) if str(c) not in old_codes | new_codes)
    assert codes_taken([*sorted(old_codes | new_codes), free]) == old_codes | new_codes
    close_incident(operator, old.id, {"final_report": "Selesai"})
    assert codes_taken(sorted(old_codes)) == set() and codes_in_use() == new_codes
    finished = sent[0]
    Dispatch.update(status="finished").where(Dispatch.id == finished.id).execute()
    assert codes_taken([finished.code]) == set()
