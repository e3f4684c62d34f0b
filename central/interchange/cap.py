"""A closed case as an OASIS CAP 1.2 alert (urn:oasis:names:tc:emergency:cap:1.2).

Pure functions of a case record (central.interchange.case_record), which already carries the
caller-privacy view. CAP is an alerting format; a 112 case record fits it as a Restricted
message (status Actual, certainty Observed) whose <info> says what happened, where, and which
agencies did what when (as <parameter>s). Times are WIB with an explicit +07:00 offset: CAP 1.2
forbids "Z" and fractions of seconds. Mapping tables: central.interchange.vocab; the whole
mapping is in docs/exports.md.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from central.interchange.vocab import priority_codes, type_codes
from edge.timeutil import WIB

NS = "urn:oasis:names:tc:emergency:cap:1.2"
RESTRICTION = ("Catatan layanan darurat 112 untuk pusat data Kominfo dan Diskominfotik; "
               "bukan peringatan publik. 112 service record for the data centre, not a public warning.")
UPDATE_AFTER = timedelta(minutes=1)  # changes later than this after closing make the record an Update

ET.register_namespace("", NS)


def cap_time(iso: str | None) -> str | None:
    """"2026-11-25T10:31:18.123456Z" → "2026-11-25T17:31:18+07:00"."""
    if not iso:
        return None
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(WIB).replace(microsecond=0).isoformat()


def _parse(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None


def sender(record: dict[str, Any]) -> str:
    return f"siaga112:{record['node']}"


def last_change(record: dict[str, Any]) -> datetime | None:
    """The latest change to the case (its row, a dispatch, a timeline event)."""
    stamps = [record["incident"].get("updated_at")]
    stamps += [d.get("updated_at") for d in record["dispatches"]]
    stamps += [e.get("at") for e in record["timeline"]]
    parsed = [p for p in (_parse(s) for s in stamps) if p is not None]
    return max(parsed) if parsed else None


def message_kind(record: dict[str, Any]) -> str:
    """"Alert" for the record as closed; "Update" when the case changed after it was closed
    (an agency's late report), referring to the Alert it supersedes."""
    closed = _parse(record["incident"]["closed_at"])
    changed = last_change(record)
    if closed and changed and changed - closed > UPDATE_AFTER:
        return "Update"
    return "Alert"


def identifier(record: dict[str, Any], kind: str | None = None) -> str:
    kind = kind or message_kind(record)
    if kind == "Update":
        return f"{record['case_no']}-u{last_change(record).strftime('%Y%m%d%H%M%S')}"
    return record["case_no"]


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _pair(parent: ET.Element, tag: str, name: str, value: Any) -> None:
    el = _sub(parent, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", "" if value is None else value)


def _seconds(value: float | None) -> str:
    return "-" if value is None else str(round(value))


def parameters(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """The case's figures as CAP parameters: case, victims, caller, agencies, SOP step times."""
    inc = record["incident"]
    out: list[tuple[str, Any]] = [
        ("caseNumber", record["case_no"]),
        ("incidentTypeCode", inc["incident_type"]),
        ("priority", inc["priority"]),
        ("victimsCount", inc["victims_count"]),
        ("victimsCondition", inc["victims_condition"]),
        ("recordedAt", cap_time(inc["recorded_at"])),
        ("closedAt", cap_time(inc["closed_at"])),
        ("calls", len(record["calls"])),
        ("privacy", record["privacy"]),
    ]
    if record["privacy"] == "full":
        out += [("reporterName", inc["reporter_name"]), ("reporterNumber", inc["reporter_number"])]
    elif inc["reporter_number"]:
        out.append(("reporterPseudonym", inc["reporter_number"]))
    for d in record["dispatches"]:
        steps = ";".join(f"{k}={cap_time(d[f]) or '-'}" for k, f in (
            ("sent", "sent_at"), ("acknowledged", "acknowledged_at"), ("enRoute", "en_route_at"),
            ("onScene", "on_scene_at"), ("finished", "finished_at")))
        out.append(("dispatch", f"{d['agency']['code']};status={d['status']};channel={d['channel']};{steps}"))
    for t in record["sop"]:
        out.append((f"sop:{t['key']}", f"{_seconds(t['elapsed_seconds'])}/{t['standard_seconds']}s {t['state']}"))
    return out


def area_desc(inc: dict[str, Any]) -> str:
    parts = [inc["desa"], f"Kec. {inc['kecamatan']}" if inc["kecamatan"] else "", inc["address"] or inc["landmark"]]
    return ", ".join(p for p in parts if p) or "Lokasi tidak tercatat"


def description(record: dict[str, Any]) -> str:
    inc = record["incident"]
    lines = [
        inc["situation"],
        f"Penanganan awal: {inc['initial_handling']}" if inc["initial_handling"] else "",
        f"Laporan akhir: {inc['final_report']}" if inc["final_report"] else "",
    ]
    return "\n".join(line for line in lines if line) or inc["incident_type_name"]


def alert_element(record: dict[str, Any]) -> ET.Element:
    inc = record["incident"]
    kind = message_kind(record)
    alert = ET.Element(f"{{{NS}}}alert")
    _sub(alert, "identifier", identifier(record, kind))
    _sub(alert, "sender", sender(record))
    sent = last_change(record) if kind == "Update" else None
    _sub(alert, "sent", cap_time(sent.isoformat()) if sent else cap_time(inc["closed_at"]))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", kind)
    _sub(alert, "source", f"Siaga 112 {record['generated_by']}")
    _sub(alert, "scope", "Restricted")
    _sub(alert, "restriction", RESTRICTION)
    _sub(alert, "code", record["schema"])
    if record["privacy"] != "full":
        _sub(alert, "note", "Data penelepon dipseudonimkan: nomor diganti kode HMAC, nama dihapus.")
    if kind == "Update":
        _sub(alert, "references", f"{sender(record)},{record['case_no']},{cap_time(inc['closed_at'])}")
    _sub(alert, "incidents", record["case_no"])

    info = _sub(alert, "info")
    codes = type_codes(inc["incident_type"])
    prio = priority_codes(inc["priority"], inc["victims_condition"])
    _sub(info, "language", "id-ID")
    for category in codes.cap_categories:
        _sub(info, "category", category)
    _sub(info, "event", inc["incident_type_name"])
    _sub(info, "urgency", prio.urgency)
    _sub(info, "severity", prio.severity)
    _sub(info, "certainty", "Observed")
    _pair(info, "eventCode", "siaga112:incident_type", inc["incident_type"])
    _pair(info, "eventCode", "eido:incident_type", codes.eido_type)
    _sub(info, "onset", cap_time(inc["recorded_at"]))
    _sub(info, "senderName", f"Siaga 112 {record['node']}")
    _sub(info, "headline", f"{record['case_no']}: {inc['incident_type_name']}"[:160])
    _sub(info, "description", description(record))
    for name, value in parameters(record):
        _pair(info, "parameter", name, value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", area_desc(inc))
    if inc["latitude"] is not None and inc["longitude"] is not None:
        _sub(area, "circle", f"{inc['latitude']:.6f},{inc['longitude']:.6f} 0")
    for name in ("kecamatan", "desa"):
        if inc[name]:
            _pair(area, "geocode", name, inc[name])
    return alert


def alert_xml(record: dict[str, Any]) -> bytes:
    """One CAP 1.2 <alert> document, UTF-8 with an XML declaration."""
    el = alert_element(record)
    ET.indent(el)
    return ET.tostring(el, encoding="utf-8", xml_declaration=True) + b"\n"


def filename(record: dict[str, Any]) -> str:
    return f"{record['case_no']}.cap.xml"
