"""EIDO-style JSON of closed cases: components that refer to each other, UTC times, the case's facts."""

from __future__ import annotations

import json
import re

from central.interchange.case_record import record
from central.interchange.eido import eido_document
from edge.services.privacy import CallerView, Scrubber
from tests.central.exports_factory import NAME, NUMBER, closed_case

UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _times(doc, out=None):
    out = [] if out is None else out
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key.endswith("TimeStamp") and value is not None:
                out.append(value)
            _times(value, out)
    elif isinstance(doc, list):
        for item in doc:
            _times(item, out)
    return out


def test_eido_document_components_and_references(app):
    inc = closed_case()
    doc = eido_document(record(inc, Scrubber(CallerView.FULL)))
    json.dumps(doc)  # plain JSON
    (incident,) = doc["incidentComponent"]
    assert doc["$id"] == doc["eidoMessageIdentifier"] and doc["messageKind"] == "Report"
    assert incident["incidentTrackingIdentifier"] == f"urn:emergency:uid:incidentid:{inc.id}:central.siaga112"
    assert incident["localIncidentIdentifier"] == inc.case_no
    assert incident["incidentTypeCommonRegistryText"] == "Fire" and incident["incidentTypeLocal"]["code"] == 3
    assert incident["incidentStatusCommonRegistryText"] == "Closed" and incident["incidentPriority"] == "High"
    assert incident["reportingParty"] == {"name": NAME, "callbackNumber": NUMBER}
    ids = {c["$id"] for key in ("callComponent", "locationComponent", "agencyComponent",
                                "emergencyResourceComponent", "notesComponent") for c in doc[key]}
    refs = [r["$ref"] for r in (incident["locationReference"], *incident["callReference"],
                                *incident["agencyReference"], *incident["emergencyResourceReference"],
                                *incident["notesReference"])]
    assert set(refs) == ids and len(refs) == len(ids)  # every component referenced, every reference resolves
    (location,) = doc["locationComponent"]
    assert location["civicAddress"] == {"country": "ID", "A3": "Bengkalis", "A4": "Senggoro", "LOC": "Jl. Pramuka 12",
                                        "LMK": "dekat masjid"}
    assert location["geoLocation"] == {"type": "Point", "coordinates": [102.1067, 1.4651]}
    (resource,) = doc["emergencyResourceComponent"]
    assert resource["agencyReference"] == {"$ref": "agency-DAMKAR"} and resource["status"] == "finished"
    assert resource["onSceneTimeStamp"] and resource["report"] == "Api padam, 1 rumah rusak"
    (call,) = doc["callComponent"]
    assert call["callbackNumber"] == NUMBER and call["callTakerIdentifier"] == "operator"
    kinds = [n["noteActionType"] for n in doc["notesComponent"]]
    assert kinds[0] == "incident.created" and kinds[-1] == "incident.closed"
    assert doc["notesComponent"][-1]["noteText"].startswith("Selesai.")
    assert [s["key"] for s in doc["sopStepComponent"]][:3] == ["receive", "record", "contact"]
    times = _times(doc)
    assert len(times) > 10 and all(UTC_Z.match(t) for t in times)


def test_pseudonymised_eido_keeps_repeat_callers_countable(app):
    first, second = closed_case(), closed_case()
    other = closed_case(number="081311112222", name="Siti Aminah")
    scrubber = Scrubber(CallerView.PSEUDONYMISED)
    docs = [eido_document(record(i, scrubber)) for i in (first, second, other)]
    text = json.dumps(docs, ensure_ascii=False)
    assert NUMBER not in text and NAME not in text and "Siti" not in text and "81311112222" not in text
    numbers = [d["incidentComponent"][0]["reportingParty"]["callbackNumber"] for d in docs]
    assert numbers[0] == numbers[1] != numbers[2] and all(n.startswith("p-") for n in numbers)
    assert all(d["incidentComponent"][0]["reportingParty"]["name"] == "" for d in docs)
    assert "p-" in docs[0]["incidentComponent"][0]["situation"]  # the number written in the text, pseudonymised
