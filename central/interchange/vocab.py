"""The code tables of the exports: incident types and priorities in CAP's and EIDO's vocabularies.

The Perbup 48/2025 Lampiran I numbering (types 1-12) is shared by every built-in profile; a code
not listed here exports as CAP category "Other" and EIDO type "Other". docs/exports.md prints
these tables, and a test checks the doc against them.
"""

from __future__ import annotations

from dataclasses import dataclass

CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                  "CBRNE", "Other")


@dataclass(frozen=True)
class TypeCodes:
    cap_categories: tuple[str, ...]
    eido_type: str  # a short English label in the manner of the EIDO incident type registry


INCIDENT_TYPES: dict[int, TypeCodes] = {
    1: TypeCodes(("Health",), "Medical"),
    2: TypeCodes(("Rescue",), "Water Rescue"),
    3: TypeCodes(("Fire",), "Fire"),
    4: TypeCodes(("Transport", "Rescue"), "Traffic Collision"),
    5: TypeCodes(("Security",), "Law Enforcement"),
    6: TypeCodes(("CBRNE", "Env"), "Hazardous Materials"),
    7: TypeCodes(("Safety", "Infra"), "Fallen Tree"),
    8: TypeCodes(("Safety",), "Animal"),
    9: TypeCodes(("Geo", "Met"), "Natural Disaster"),
    10: TypeCodes(("Infra", "Rescue"), "Structural Damage"),
    11: TypeCodes(("Safety",), "Social Services"),
    12: TypeCodes(("Other",), "Other"),
}
OTHER = TypeCodes(("Other",), "Other")


def type_codes(code: int) -> TypeCodes:
    return INCIDENT_TYPES.get(code, OTHER)


@dataclass(frozen=True)
class PriorityCodes:
    urgency: str
    severity: str
    eido_priority: str


# Priority 1 (tinggi) .. 3 (rendah), set at intake from the profile's incident type.
PRIORITIES: dict[int, PriorityCodes] = {
    1: PriorityCodes("Immediate", "Severe", "High"),
    2: PriorityCodes("Expected", "Moderate", "Medium"),
    3: PriorityCodes("Future", "Minor", "Low"),
}
UNKNOWN_PRIORITY = PriorityCodes("Unknown", "Unknown", "Unknown")


def priority_codes(priority: int, victims_condition: str = "") -> PriorityCodes:
    """CAP urgency/severity from the case's priority; a death makes the severity Extreme."""
    codes = PRIORITIES.get(priority, UNKNOWN_PRIORITY)
    if victims_condition == "dead":
        return PriorityCodes(codes.urgency, "Extreme", codes.eido_priority)
    return codes
