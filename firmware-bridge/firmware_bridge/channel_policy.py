"""Which channel carries a dispatch now: the routing profile's policy applied to what each
channel has done so far.

The profile gives `channel_order` (e.g. mqtt, radio, sms) and `fallback_after_seconds`. A
dispatch goes first on the channel the call-taker chose. When the agency has not acknowledged
it within the fallback time — or at once, for a network dispatch while this node's sync
cannot reach the broker — the next channel of the order takes over, one after the other:
radio (when this bridge has a radio and the agency a station callsign) gets its own window,
and SMS goes only once radio has had its chance — it gave up after all retries, or its window
passed without an acknowledgement from the agency. Each channel sends a dispatch at most once
(its transmission table says what went out); whichever channel the agency answers on, the
status moves once, because statuses only go forward.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from edge.callsign import normalise_callsign
from edge.enums import DispatchStatus
from edge.models import Agency, Dispatch, Incident, RadioTransmission, SmsTransmission
from edge.profile import Profile
from edge.services.profiles import profile_for
from edge.timeutil import utcnow
from sync.models import SyncStatus

NETWORK_CHANNELS = ("app", "mqtt")  # the dispatch went over the network (same appliance or sync)
UNANSWERED = (DispatchStatus.SENT.value, DispatchStatus.RECEIVED.value)
BATCH = 20


def callsign(value: str) -> str | None:
    """The normalised callsign, or None if `value` is not one (the AX.25 rule, edge/callsign.py)."""
    return normalise_callsign(value)


def agency_for_callsign(call: str) -> Agency | None:
    """The agency whose station's radio callsign (`Agency.radio_callsign`) is `call`."""
    wanted = callsign(call)
    if wanted is None:
        return None
    for agency in Agency.select().where(Agency.radio_callsign != ""):
        if callsign(agency.radio_callsign) == wanted:
            return agency
    return None


def radio_before_sms(order) -> bool:
    return "radio" in order and ("sms" not in order or order.index("radio") < order.index("sms"))


def _waiting(transmitted) -> list[tuple[Dispatch, Profile]]:
    """Open, unanswered dispatches not yet sent over the channel whose table is `transmitted`."""
    sent = transmitted.select(transmitted.dispatch_id)
    rows = (Dispatch.select(Dispatch, Agency, Incident).join_from(Dispatch, Agency).join_from(Dispatch, Incident)
            .where(Dispatch.id.not_in(sent) & (Incident.status != "closed") & Dispatch.status.in_(UNANSWERED))
            .order_by(Dispatch.sent_at).limit(200))
    return [(d, profile_for(d.incident.profile_id)) for d in rows]


def _window(policy: Profile) -> timedelta:
    return timedelta(seconds=policy.fallback_after_seconds)


def network_down() -> bool:
    """True while this node's sync daemon runs but cannot reach the broker: a network dispatch
    cannot get out, so there is no point waiting for its answer before the next channel."""
    row = SyncStatus.get_or_none(SyncStatus.key == "connected")
    return row is not None and row.value != "1"


def _network_turn_over(dispatch: Dispatch, policy: Profile, down: bool) -> datetime:
    """When the network's turn of a network dispatch ends (and the next channel's begins)."""
    return dispatch.sent_at if down else dispatch.sent_at + _window(policy)


def radio_has_had_its_chance(dispatch: Dispatch, policy: Profile, now: datetime, radio_here: bool,
                             down: bool = False) -> bool:
    """True when radio cannot or did not get the dispatch answered: no radio here, no station
    callsign, the radio gave up, or its window passed without an answer (a TNC that stays down
    counts from the moment radio's turn came)."""
    if not radio_here or callsign(dispatch.agency.radio_callsign) is None:
        return True
    row = RadioTransmission.get_or_none(RadioTransmission.dispatch_id == dispatch.id)
    if row is not None:
        return row.failed or now >= row.sent_at + _window(policy)
    turn = dispatch.sent_at if dispatch.channel == "radio" else _network_turn_over(dispatch, policy, down)
    return now >= turn + _window(policy)


def sms_due(now: datetime | None = None, radio_here: bool = False) -> list[tuple[Dispatch, bool]]:
    """Dispatches to send by SMS now, each with whether it is a fallback from another channel."""
    now, down = now or utcnow(), network_down()
    out = []
    for dispatch, policy in _waiting(SmsTransmission):
        if dispatch.channel == "sms":
            if dispatch.status == DispatchStatus.SENT:
                out.append((dispatch, False))
            continue
        order = policy.channel_order
        if "sms" not in order or dispatch.channel not in NETWORK_CHANNELS + ("radio",):
            continue
        if dispatch.channel in NETWORK_CHANNELS and now < _network_turn_over(dispatch, policy, down):
            continue
        if (dispatch.channel == "radio" or radio_before_sms(order)) and \
                not radio_has_had_its_chance(dispatch, policy, now, radio_here, down):
            continue
        out.append((dispatch, True))
    return out[:BATCH]


def radio_due(now: datetime | None = None) -> list[tuple[Dispatch, bool]]:
    """Dispatches to send by radio now: channel "radio", or a network dispatch unanswered
    within the fallback time when the order puts radio before SMS and the agency has a callsign."""
    now, down = now or utcnow(), network_down()
    out = []
    for dispatch, policy in _waiting(RadioTransmission):
        if dispatch.channel == "radio":
            if dispatch.status == DispatchStatus.SENT:
                out.append((dispatch, False))
        elif dispatch.channel in NETWORK_CHANNELS and dispatch.agency.radio_callsign \
                and radio_before_sms(policy.channel_order) and now >= _network_turn_over(dispatch, policy, down):
            out.append((dispatch, True))
    return out[:BATCH]
