"""Dispatch codes ("OK 4821") are unique among what an agency may still answer: unfinished
dispatches of open cases. A closed case frees its codes, and a reply never reaches it."""

from __future__ import annotations

from edge.models import Agency, Dispatch, Incident
from edge.services.incidents import close_incident, codes_in_use, create_incident, dispatch_agencies
from edge.services.users import get_user
from firmware_bridge.sms_routing import apply_reply


def _case(operator, desa: str) -> Incident:
    return create_incident(operator, {"incident_type": 3, "kecamatan": "Bengkalis", "desa": desa,
                                      "situation": "api"}).incident


def test_a_closed_case_frees_its_codes_and_replies_go_to_the_open_case(node):
    operator = get_user("operator")
    old = _case(operator, "Senggoro")
    old_damkar = dispatch_agencies(operator, old.id, ["DAMKAR", "POLRES"])[0]
    assert old_damkar.code in codes_in_use()
    close_incident(operator, old.id, {"final_report": "Selesai ditangani di tempat"})
    assert codes_in_use() == set()  # DAMKAR never answered, but the case is closed
    new = _case(operator, "Kelapapati")
    new_damkar = dispatch_agencies(operator, new.id, ["DAMKAR"])[0]
    Dispatch.update(code=old_damkar.code).where(Dispatch.id == new_damkar.id).execute()  # the same code drawn
    damkar = Agency.get(Agency.code == "DAMKAR")
    assert apply_reply(damkar, "081311112222", f"TIBA {old_damkar.code}", "sms") is not None
    assert Dispatch.get_by_id(new_damkar.id).status == "on_scene"
    assert Dispatch.get_by_id(old_damkar.id).status == "sent"


def test_codes_of_one_dispatch_round_are_distinct(node):
    operator = get_user("operator")
    case = _case(operator, "Senggoro")
    sent = dispatch_agencies(operator, case.id, ["DAMKAR", "POLRES", "DINKES", "BPBD", "DISHUB"])
    assert len({d.code for d in sent}) == len(sent) == 5
