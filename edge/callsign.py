"""The AX.25 callsign rule, pure and tiny, so code that must not import the bridge can use it.

An agency station's radio callsign (`agency.radio_callsign`) is 1-6 letters or digits with an
optional SSID 0-15 ("DAMKR1", "yb5xyz-7"); written canonically in upper case with "-0" dropped.
The bridge (firmware_bridge.radio.ax25) encodes frames with the same rule; the schema migration
that moved the callsign out of `agency.station_node` (edge/migrations/m0001) must not import the
bridge, hence this module.
"""

from __future__ import annotations

import re

CALL_RE = re.compile(r"([A-Z0-9]{1,6})(?:-(1[0-5]|[1-9]|0))?")


def normalise_callsign(value: str | None) -> str | None:
    """The canonical spelling of `value` ("yb5xyz-0" -> "YB5XYZ"), or None if it is not a callsign."""
    match = CALL_RE.fullmatch((value or "").strip().upper())
    if not match:
        return None
    ssid = int(match.group(2) or 0)
    return f"{match.group(1)}-{ssid}" if ssid else match.group(1)
