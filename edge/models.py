"""The data model, defined once: used by the edge app, central and sync alike.

Replicated records carry a UUIDv7 `id`, the `node` that created them and UTC
`created_at` / `updated_at`. Node-local tables (tokens, login attempts, counters)
never leave the machine. Models are bound through `db_proxy`, so the same classes
work on a posko's SQLite file and on central's SQLite or PostgreSQL.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from edge.ids import uuid7
from edge.timeutil import utcnow

db_proxy = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = db_proxy
        legacy_table_names = False


class Replicated(BaseModel):
    """A record that sync carries between nodes."""

    id = CharField(primary_key=True, max_length=36, default=uuid7)
    node = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):  # type: ignore[override]
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)


class Agency(Replicated):
    """An agency (OPD) that can be dispatched: Damkar, Polres, RSUD …"""

    code = CharField(max_length=32, unique=True)
    name = CharField()
    name_en = CharField(default="")
    kind = CharField(max_length=32, default="other")
    phone = CharField(default="")  # for SMS dispatch (issue 4)
    station_node = CharField(default="")  # node id of its agency station, if it has one
    radio_callsign = CharField(default="")  # AX.25 callsign of its station's radio (edge/migrations/m0001)
    active = BooleanField(default=True)


class User(Replicated):
    username = CharField(max_length=64, unique=True)
    full_name = CharField(default="")
    role = CharField(max_length=16)
    agency = ForeignKeyField(Agency, null=True, backref="users", on_delete="RESTRICT")
    password_hash = CharField()
    active = BooleanField(default=True)
    lang = CharField(max_length=2, default="id")
    must_change_password = BooleanField(default=False)


class RoutingProfile(Replicated):
    """A regency's routing matrix and SOP time standards, as a JSON document."""

    profile_id = CharField(max_length=64, unique=True)
    name = CharField()
    doc = TextField()  # edge.profile.Profile.to_dict() as JSON
    active = BooleanField(default=False)


class Incident(Replicated):
    """A case: the intake fields of Bengkalis Lampiran II step 2 and its state."""

    case_no = CharField(max_length=64, unique=True)
    reporter_name = CharField(default="")
    reporter_number = CharField(default="")
    incident_type = IntegerField(index=True)
    address = TextField(default="")
    kecamatan = CharField(default="", index=True)
    desa = CharField(default="", index=True)
    landmark = CharField(default="")
    latitude = FloatField(null=True)
    longitude = FloatField(null=True)
    victims_count = IntegerField(default=0)
    victims_condition = CharField(max_length=16, default="unknown")
    four_wheel_access = BooleanField(null=True)
    initial_handling = TextField(default="")
    situation = TextField(default="")
    priority = IntegerField(default=2)
    status = CharField(max_length=16, default="recorded", index=True)
    profile_id = CharField(max_length=64, default="")
    recorded_at = DateTimeField(default=utcnow, index=True)
    recorded_by = CharField(max_length=64, default="")
    closed_at = DateTimeField(null=True)
    closed_by = CharField(max_length=64, default="")
    final_report = TextField(default="")

    class Meta:
        # related_open_incidents: cases of the same type in the last hour (migration step *_intake_indexes)
        indexes = ((("incident_type", "recorded_at"), False),)


class Call(Replicated):
    """One ring of the 112 line, whatever it turned out to be."""

    caller_number = CharField(max_length=32, default="", index=True)
    rung_at = DateTimeField(default=utcnow, index=True)
    answered_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    call_type = CharField(max_length=16, null=True, index=True)  # None until classified
    call_taker = CharField(max_length=64, default="")  # username
    source = CharField(max_length=16, default="manual")
    notes = TextField(default="")
    incident = ForeignKeyField(Incident, null=True, backref="calls", on_delete="RESTRICT")


class Dispatch(Replicated):
    """One incident sent to one agency, and what that agency reported back."""

    incident = ForeignKeyField(Incident, backref="dispatches", on_delete="RESTRICT")
    agency = ForeignKeyField(Agency, backref="dispatches", on_delete="RESTRICT")
    channel = CharField(max_length=16, default="app")
    status = CharField(max_length=16, default="sent", index=True)
    sent_at = DateTimeField(default=utcnow, index=True)
    received_at = DateTimeField(null=True)
    acknowledged_at = DateTimeField(null=True)
    prepared_at = DateTimeField(null=True)
    en_route_at = DateTimeField(null=True)
    on_scene_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    crew_count = IntegerField(null=True)
    equipment = TextField(default="")
    hospital = CharField(default="")
    hospital_at = DateTimeField(null=True)
    victims_to_hospital = IntegerField(null=True)
    report = TextField(default="")
    sent_by = CharField(max_length=64, default="")
    code = CharField(max_length=8, default="", index=True)  # 4 digits the agency replies with by SMS/radio

    class Meta:
        # (code, status): is a code still in use, without reading each dispatch that ever had it (*_intake_indexes)
        indexes = ((("incident", "agency"), True), (("code", "status"), False))


class Event(Replicated):
    """Append-only timeline entry; hash-chained per node so tampering is detectable.

    `seq` numbers this node's events 1, 2, 3 …; `hash` covers the event's content and
    `prev_hash` (the hash of the same node's previous event). UPDATE and DELETE are
    refused by triggers (edge.db.create_schema).
    """

    incident = ForeignKeyField(Incident, null=True, backref="events", on_delete="RESTRICT")
    seq = IntegerField()
    at = DateTimeField(default=utcnow)
    actor = CharField(max_length=64, default="")  # username, or "system"/"modem"
    kind = CharField(max_length=32)
    detail = TextField(default="{}")  # JSON
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)

    class Meta:
        indexes = ((("node", "seq"), True),)


# --- node-local tables (never replicated) ---------------------------------------------


class NodeSetting(BaseModel):
    """This node's identity and settings (node id, role) kept in its own database."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()


class Counter(BaseModel):
    """Monotonic per-node counters (case numbers, event sequence)."""

    name = CharField(primary_key=True, max_length=64)
    value = IntegerField(default=0)


class ApiToken(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=uuid7)
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    label = CharField(default="")
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked = BooleanField(default=False)


class LoginAttempt(BaseModel):
    username = CharField(max_length=64, index=True)
    remote_addr = CharField(max_length=64, index=True)
    at = DateTimeField(default=utcnow, index=True)
    ok = BooleanField()


# --- node-local tables of the radio and SMS channels (the bridge and the web app share them) --


class SmsTransmission(BaseModel):
    """One dispatch sent by SMS from this node, so a restart never sends it twice."""

    dispatch_id = CharField(max_length=36, primary_key=True)
    number = CharField(max_length=32)
    refs = TextField(default="")  # modem message references, comma-separated
    text = TextField()
    sent_at = DateTimeField(default=utcnow)
    delivered_parts = IntegerField(default=0)


class RadioTransmission(BaseModel):
    """One dispatch sent by radio from this node, with the message id its ack will name."""

    dispatch_id = CharField(max_length=36, primary_key=True)
    callsign = CharField(max_length=16)
    msgid = CharField(max_length=12, index=True)
    text = TextField()
    sent_at = DateTimeField(default=utcnow)
    acked_at = DateTimeField(null=True)
    failed = BooleanField(default=False)


class RadioInbox(BaseModel):
    """Everything heard over radio for this node's callsign, so nothing heard is lost: kind
    "dispatch" (verified), "rejected" (failed verification), "reply" (applied) or "other"."""

    id = AutoField()
    source = CharField(max_length=16)
    kind = CharField(max_length=16)
    code = CharField(max_length=8, default="")
    text = TextField()
    note = TextField(default="")
    received_at = DateTimeField(default=utcnow)


class ReceivedDispatch(BaseModel):
    """A dispatch that reached this agency station over radio or SMS: what its dispatcher sees
    and answers while the network is down, linked to the replicated dispatch once sync brings it."""

    id = AutoField()
    agency = CharField(max_length=32, index=True)  # agency code the text was verified for
    code = CharField(max_length=8, index=True)
    channel = CharField(max_length=16)  # radio / sms: the first channel it arrived on
    source = CharField(max_length=32)  # callsign or phone number it came from
    text = TextField()
    data = TextField()  # the parsed DispatchMessage as JSON
    status = CharField(max_length=16, default="received")
    received_at = DateTimeField(default=utcnow)
    status_at = DateTimeField(default=utcnow)
    dispatch_id = CharField(max_length=36, default="")  # the replicated dispatch, once known here


class OutgoingReply(BaseModel):
    """An agency station's answer to a received dispatch, waiting for the bridge to send it
    back on the channel the dispatch came in on."""

    id = AutoField()
    received = ForeignKeyField(ReceivedDispatch, backref="replies", on_delete="CASCADE")
    channel = CharField(max_length=16)
    dest = CharField(max_length=32)  # callsign or phone number
    text = TextField()
    msgid = CharField(max_length=12, default="", index=True)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    acked_at = DateTimeField(null=True)
    failed = BooleanField(default=False)


REPLICATED_MODELS: tuple[type[Replicated], ...] = (
    Agency,
    User,
    RoutingProfile,
    Incident,
    Call,
    Dispatch,
    Event,
)
CHANNEL_MODELS: tuple[type[BaseModel], ...] = (SmsTransmission, RadioTransmission, RadioInbox, ReceivedDispatch,
                                                OutgoingReply)
LOCAL_MODELS: tuple[type[BaseModel], ...] = (NodeSetting, Counter, ApiToken, LoginAttempt) + CHANNEL_MODELS
ALL_MODELS: tuple[type[BaseModel], ...] = REPLICATED_MODELS + LOCAL_MODELS
APPEND_ONLY_TABLES = ("event",)
