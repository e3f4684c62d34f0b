"""CAP 1.2 alerts of closed cases: valid against the OASIS CAP 1.2 schema, and saying the right things."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
import xmlschema

from central.interchange import cap
from central.interchange.case_record import record
from central.interchange.vocab import INCIDENT_TYPES
from edge.models import Dispatch
from edge.services.privacy import CallerView, Scrubber
from tests.central.exports_factory import NAME, NUMBER, closed_case

XSD = Path(__file__).resolve().parent.parent / "data" / "CAP-v1.2.xsd"
NS = {"cap": cap.NS}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _alert(inc, view=CallerView.FULL) -> tuple[bytes, ET.Element]:
    xml = cap.alert_xml(record(inc, Scrubber(view)))
    return xml, ET.fromstring(xml)


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path, NS)
    return found.text if found is not None else None


def _params(el: ET.Element, tag: str = "parameter", where: str = "cap:info") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in el.find(where, NS).findall(f"cap:{tag}", NS):
        out.setdefault(_text(p, "cap:valueName"), []).append(_text(p, "cap:value"))
    return out


def test_alert_is_valid_cap_1_2_and_maps_the_case(app, schema):
    inc = closed_case(dead=True)
    xml, alert = _alert(inc)
    schema.validate(xml.decode("utf-8"))  # raises with the first violation
    assert alert.tag == f"{{{cap.NS}}}alert"
    assert _text(alert, "cap:identifier") == inc.case_no
    assert _text(alert, "cap:sender") == "siaga112:central"
    assert _text(alert, "cap:sent").endswith("+07:00")
    assert (_text(alert, "cap:status"), _text(alert, "cap:msgType"), _text(alert, "cap:scope")) == (
        "Actual", "Alert", "Restricted")
    assert _text(alert, "cap:restriction")
    info = alert.find("cap:info", NS)
    assert [c.text for c in info.findall("cap:category", NS)] == ["Fire"]
    assert _text(info, "cap:event") == "Kebakaran rumah, kantor, hutan dan lahan"  # the profile's type name
    # priority 1 (fire) -> Immediate; a death makes the severity Extreme
    assert (_text(info, "cap:urgency"), _text(info, "cap:severity"), _text(info, "cap:certainty")) == (
        "Immediate", "Extreme", "Observed")
    area = info.find("cap:area", NS)
    assert _text(area, "cap:areaDesc").startswith("Senggoro, Kec. Bengkalis")
    assert _text(area, "cap:circle") == "1.465100,102.106700 0"
    params = _params(alert)
    assert params["caseNumber"] == [inc.case_no]
    assert params["reporterNumber"] == [NUMBER] and params["reporterName"] == [NAME]
    (dispatch,) = params["dispatch"]
    assert dispatch.startswith("DAMKAR;status=finished;channel=app;sent=") and "onScene=20" in dispatch
    assert {k for k in params if k.startswith("sop:")} >= {"sop:receive", "sop:record", "sop:contact", "sop:confirm"}


def test_pseudonymised_alert_has_no_caller_data(app, schema):
    inc = closed_case()
    xml, alert = _alert(inc, CallerView.PSEUDONYMISED)
    schema.validate(xml.decode("utf-8"))
    text = xml.decode("utf-8")
    assert NUMBER not in text and NAME not in text and "77001122" not in text
    params = _params(alert)
    assert params["reporterPseudonym"][0].startswith("p-") and "reporterNumber" not in params
    assert _text(alert, "cap:note")


def test_case_without_coordinates_and_changed_after_closing_is_an_update(app, schema):
    inc = closed_case(with_coords=False)
    d = Dispatch.get(Dispatch.incident == inc.id)
    Dispatch.update(updated_at=inc.closed_at + timedelta(hours=2)).where(Dispatch.id == d.id).execute()
    xml, alert = _alert(inc)
    schema.validate(xml.decode("utf-8"))
    assert _text(alert, "cap:msgType") == "Update"
    assert _text(alert, "cap:identifier") != inc.case_no
    assert _text(alert, "cap:references").startswith(f"siaga112:central,{inc.case_no},")
    assert alert.find("cap:info/cap:area/cap:circle", NS) is None


def test_schema_rejects_what_cap_forbids(schema):
    """The test schema is strict where CAP is: 'Z' times and unknown categories fail."""
    good = (f'<alert xmlns="{cap.NS}"><identifier>x</identifier><sender>s</sender>'
            "<sent>2026-01-01T10:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType>"
            "<scope>Restricted</scope></alert>")
    schema.validate(good)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(good.replace("+07:00", "Z"))
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(good.replace("<scope>Restricted</scope>", "<scope>Secret</scope>"))


def test_every_mapped_category_is_a_cap_category(schema):
    allowed = set(schema.elements["alert"].type.content[13].type.content[1].type.enumeration)
    for codes in INCIDENT_TYPES.values():
        assert set(codes.cap_categories) <= allowed


def test_docs_print_the_mapping_tables_of_the_code():
    """docs/exports.md's incident-type table is central.interchange.vocab's, row for row."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "exports.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = (tuple(c.strip() for c in cells[2].split(",")), cells[3])
    assert rows == {code: (t.cap_categories, t.eido_type) for code, t in INCIDENT_TYPES.items()}
