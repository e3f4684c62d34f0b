"""An agency station hears a dispatch text, over radio or by SMS: verify it, hand it to the inbox.

The text is checked with this station's agency key (sync/dispatch_keys.py); a text whose auth
code does not match is refused, logged and kept where the channel keeps what it heard
(`radio_inbox`, or an information call for SMS), so nothing is lost and nothing forged reaches
the dispatcher. A valid one becomes a `received_dispatch` (edge/services/station.py), which the
station's inbox shows with its alarm; the same dispatch heard again is the same row.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from edge.logsetup import redacted
from edge.models import Agency, ReceivedDispatch
from edge.services import station
from firmware_bridge.channel_policy import agency_for_callsign
from firmware_bridge.dispatch_format import DispatchFormatError, parse
from sync import dispatch_keys

log = logging.getLogger("siaga112.bridge.station")

DISPATCH_PREFIX = "112 #"  # the first characters of every dispatch text (dispatch_format._text)


@dataclass
class Receipt:
    ok: bool
    note: str  # what was done, or why the text was refused
    row: ReceivedDispatch | None = None
    new: bool = False


def looks_like_dispatch(text: str) -> bool:
    return text.lstrip().startswith(DISPATCH_PREFIX)


def station_agency(data_dir: Path, my_call: str | None = None) -> Agency | None:
    """The agency this station serves: from its enrolment (sync.json of an agency node), else the
    agency whose station callsign is this bridge's own."""
    try:
        config = json.loads((Path(data_dir) / "sync" / "sync.json").read_text())
    except (OSError, ValueError):
        config = {}
    if config.get("role") == "agency" and config.get("agency"):
        found = Agency.get_or_none(Agency.code == config["agency"])
        if found is not None:
            return found
    return agency_for_callsign(my_call or "")


def receive_text(data_dir: Path, agency: Agency | None, channel: str, source: str, text: str) -> Receipt:
    """Verify `text` for `agency` and keep it for the station's dispatcher."""
    if agency is None:
        log.warning("%s dispatch from %s refused: this node serves no agency", channel, source)
        return Receipt(False, "this node serves no agency")
    try:
        key = dispatch_keys.key_for(data_dir, agency.code)
        msg = parse(text, lambda _unverified: key)
    except (DispatchFormatError, dispatch_keys.NoDispatchKey) as exc:
        log.warning("%s dispatch from %s for %s refused: %s", channel, redacted(source), agency.code, exc)
        return Receipt(False, str(exc)[:500])
    row, new = station.receive(agency.code, channel, source, text, msg)
    if new:
        log.warning("%s DISPATCH #%s P%d %s from %s for %s:\n%s", channel.upper(), msg.code, msg.priority,
                    msg.type_name, source, agency.code, text)
    else:
        log.info("%s dispatch #%s from %s heard again: already in the inbox", channel, msg.code, source)
    return Receipt(True, f"dispatch #{msg.code} received", row, new)
