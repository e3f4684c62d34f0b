"""The closed vocabularies of the 112 procedure, as enums stored by value.

One place for each list (call types, statuses, roles, channels) so the UI, the API,
reports and sync agree on spelling and on order.
"""

from __future__ import annotations

from enum import StrEnum


class CallType(StrEnum):
    """Cilegon SOP classification of a call."""

    NORMAL = "normal"  # an emergency: becomes or joins an incident
    INFORMATION = "information"
    GHOST = "ghost"  # silent line, no one speaks
    PRANK = "prank"


NON_ACTIONABLE = (CallType.INFORMATION, CallType.GHOST, CallType.PRANK)


class Role(StrEnum):
    CALL_TAKER = "call_taker"
    SUPERVISOR = "supervisor"
    AGENCY = "agency"  # agency dispatcher, bound to one agency
    CENTRAL = "central"  # Diskominfotik staff: read and report
    ADMIN = "admin"
    ANALYST = "analyst"  # read-only data analyst: archive, reports, pseudonymised exports; never writes


class IncidentStatus(StrEnum):
    RECORDED = "recorded"  # intake done, no agency contacted yet
    DISPATCHED = "dispatched"
    HANDLING = "handling"  # at least one agency en route or on scene
    FINISHED = "finished"  # every dispatched agency reported finished
    CLOSED = "closed"  # final report written, archived


OPEN_INCIDENT_STATUSES = (
    IncidentStatus.RECORDED,
    IncidentStatus.DISPATCHED,
    IncidentStatus.HANDLING,
    IncidentStatus.FINISHED,
)


class DispatchStatus(StrEnum):
    """Dispatch life cycle; a status only ever moves forward (see `rank`)."""

    SENT = "sent"
    RECEIVED = "received"  # reached the agency station
    ACKNOWLEDGED = "acknowledged"  # "diterima" by the agency dispatcher
    PREPARED = "prepared"  # crew and equipment checked
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    FINISHED = "finished"

    @property
    def rank(self) -> int:
        return _DISPATCH_ORDER.index(self)

    @property
    def time_field(self) -> str:
        """Name of the Dispatch column that records when this status was reached."""
        return {
            "sent": "sent_at",
            "received": "received_at",
            "acknowledged": "acknowledged_at",
            "prepared": "prepared_at",
            "en_route": "en_route_at",
            "on_scene": "on_scene_at",
            "finished": "finished_at",
        }[self.value]


_DISPATCH_ORDER = list(DispatchStatus)


class Channel(StrEnum):
    """How a dispatch or an agency's update travelled."""

    APP = "app"  # same appliance (agency user logged in to this node)
    PHONE = "phone"  # call-taker phoned the agency and recorded it
    MQTT = "mqtt"
    RADIO = "radio"
    SMS = "sms"


class VictimCondition(StrEnum):
    NONE = "none"
    INJURED = "injured"
    SICK = "sick"
    DEAD = "dead"
    MIXED = "mixed"
    UNKNOWN = "unknown"


class CallSource(StrEnum):
    MANUAL = "manual"  # call-taker pressed "new call"
    GSM = "gsm"  # caller id from the GSM modem
    SMS = "sms"  # an SMS turned into an information call
    API = "api"
