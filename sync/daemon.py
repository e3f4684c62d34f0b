"""The sync daemon: moves changes between this node and its peers over MQTT.

The database is the source of truth, never paho's memory: what to send is read from
`sync_change` after the peer's acknowledged checkpoint, every envelope's sequence number
is committed before it is published, a received batch is applied and its sequence and
checkpoint committed in one transaction before the broker gets its PUBACK, and the
acknowledgement is an application message sent after that commit. So a kill -9 at any
point, a broker restart or a week offline ends in a resend that the receiver applies
once (duplicates are recognised by (origin, origin_seq)).

`SyncDaemon(data_dir)` does nothing until `start()`; `stop()` disconnects cleanly. The
retained topic `siaga112/<node>/state` says "online", with "offline" as last will.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.db import database_path, open_database
from edge.dialect import is_postgres
from edge.timeutil import utcnow
from sync import codec, rejoin
from sync.apply import apply_batch, reset_by_hand
from sync.envelope import (
    EnvelopeError,
    Kind,
    NodeKeys,
    Oversized,
    Replayed,
    check_sequence,
    directory_from_json,
    open_envelope,
    peek_header,
    seal,
)
from sync.models import SyncChange, SyncPeer
from sync.outbox import read_changes
from sync.pki import load_directory, load_node_keys
from sync.routing import Lookup, Peer, backfill, routes_to
from sync.status import write_status
from sync.watch import CommitWatcher

log = logging.getLogger("siaga112.sync")

TOPIC_ROOT = "siaga112"
BATCH_CHANGES = 500  # changes per envelope
SCAN_LIMIT = 5000  # log rows looked at per batch when most are not for this peer
RETRY_SECONDS = 15.0  # resend an unacknowledged batch after this long
SESSION_EXPIRY = 7 * 24 * 3600  # the broker keeps our subscriptions and queue for a week
PROGRESS_EVERY = 5.0
POLL_SECONDS = 0.5  # the send loop looks anyway this often (a local commit wakes it at once: sync/watch.py)


class SyncConfigError(Exception):
    """The node has no usable sync configuration (run `siaga112 init --bundle`)."""


@dataclass
class InFlight:
    seq: int
    upto: int
    sent_at: float


@dataclass
class Progress:
    """Counts for the catch-up display (command line and UI)."""

    applied: int = 0
    received_batches: int = 0
    sent_changes: int = 0
    started: float = field(default_factory=time.monotonic)
    last_report: float = field(default_factory=time.monotonic)
    last_applied: int = 0

    def rate(self, now: float) -> float:
        elapsed = max(now - self.last_report, 1e-6)
        return (self.applied - self.last_applied) / elapsed


def state_topic(node: str) -> str:
    return f"{TOPIC_ROOT}/{node}/state"


def inbox_topic(sender: str, recipient: str) -> str:
    return f"{TOPIC_ROOT}/{sender}/to/{recipient}"


class SyncDaemon:
    def __init__(self, data_dir: str | Path, broker: dict[str, object] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._broker_override = broker or {}  # [sync] broker_host/broker_port of siaga112.toml
        self.sync_dir = self.data_dir / "sync"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._inflight: dict[str, InFlight] = {}
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self.connected = threading.Event()
        self.progress = Progress()
        self._thread: threading.Thread | None = None
        self._watcher: CommitWatcher | None = None
        self._client: mqtt.Client | None = None
        self._directory_mtime = 0.0
        self.last_loop = time.monotonic()  # the send loop's heartbeat, for the systemd watchdog
        self._rejoin_sent = float("-inf")  # when a restored node last asked central to take it back

    # --- configuration -------------------------------------------------------------------

    def _load_config(self) -> None:
        path = self.sync_dir / "sync.json"
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SyncConfigError(f"{path} is missing: enrol this node with 'siaga112 init --bundle'") from exc
        self.node_id: str = config["node_id"]
        self.role: str = config["role"]
        self.central: str | None = config.get("central")
        self.broker = {**config["broker"], **self._broker_override}
        sign, enc = load_node_keys(self.sync_dir)
        self.keys = NodeKeys(self.node_id, sign, enc)
        self.me = Peer(self.node_id, self.role, config.get("agency"), tuple(config.get("areas") or ()))
        self._reload_directory(force=True)

    def _reload_directory(self, force: bool = False) -> None:
        path = self.sync_dir / "directory.json"
        mtime = path.stat().st_mtime
        if not force and mtime == self._directory_mtime:
            return
        entries = load_directory(path)
        self._directory_mtime = mtime
        self.directory = directory_from_json(entries)
        if self.role == "central":
            peers = [Peer.from_entry(n, e) for n, e in entries.items() if n != self.node_id]
        else:
            peers = [Peer.from_entry(self.central, entries[self.central])] if self.central in entries else []
        self.peers = {p.node: p for p in peers if not entries[p.node].get("revoked")}
        log.info("directory: %d peers (%s)", len(self.peers), ", ".join(sorted(self.peers)))

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._load_config()
        self.db = open_database(self.data_dir)
        self._set_status("connected", "0")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.node_id, protocol=mqtt.MQTTv5)
        client.tls_set(ca_certs=str(self.sync_dir / "ca.crt"), certfile=str(self.sync_dir / "node.crt"),
                       keyfile=str(self.sync_dir / "node.key"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.will_set(state_topic(self.node_id), "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(20)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY
        # clean_start=False: keep the broker session (and messages queued for us) across restarts.
        client.connect_async(self.broker["host"], int(self.broker["port"]), keepalive=20, clean_start=False,
                             properties=props)
        client.loop_start()
        self._thread = threading.Thread(target=self._send_loop, name="sync-send", daemon=True)
        self._thread.start()
        if not is_postgres(self.db):  # a commit by the web app or the bridge wakes the send loop at once
            self._watcher = CommitWatcher(database_path(self.data_dir), self._wake.set)
            self._watcher.start()
        log.info("sync %s (%s) started; broker %s:%s", self.node_id, self.role, self.broker["host"],
                 self.broker["port"])

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self._client is not None:
            if self.connected.is_set():
                info = self._client.publish(state_topic(self.node_id), "offline", qos=1, retain=True)
                info.wait_for_publish(timeout=2)
            self._client.disconnect()
            self._client.loop_stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._set_status("connected", "0")
        self.db.close()

    def healthy(self) -> bool:
        """The send loop has gone round recently (a hung loop means a restart is due) and the
        MQTT network thread is alive."""
        return time.monotonic() - self.last_loop < 30 and self.network_alive()

    def network_alive(self) -> bool:
        """paho's network thread runs. An exception inside paho kills it (seen under a broken clock:
        time.sleep failing in its reconnect wait), and then nothing reconnects, so `sync run` exits
        on this and systemd starts the daemon again."""
        thread = getattr(self._client, "_thread", None)  # set by paho's loop_start(); no public accessor
        return thread is not None and thread.is_alive()

    # --- MQTT callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        client.subscribe([(inbox_topic("+", self.node_id), 1), (state_topic("+"), 1)])
        client.publish(state_topic(self.node_id), "online", qos=1, retain=True)
        with self._lock:
            self._inflight.clear()  # resend whatever was not acknowledged
        self.connected.set()
        self._set_status("connected", "1")
        log.info("connected to broker")
        self._wake.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected.clear()
        self._set_status("connected", "0")
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, msg) -> None:
        """Never raises: a bad message is logged and dropped, the loop goes on."""
        try:
            parts = msg.topic.split("/")
            if len(parts) == 3 and parts[2] == "state":
                self._peer_state(parts[1], msg.payload)
            elif len(parts) == 4 and parts[2] == "to" and parts[3] == self.node_id:
                self._handle_envelope(parts[1], msg.payload)
            else:
                log.warning("ignored message on unexpected topic %s", msg.topic)
        except Exception:  # noqa: BLE001 - the sync loop must survive any single bad message
            log.exception("failed to handle message on %s (dropped; the sender will resend)", msg.topic)

    def _peer_state(self, node: str, payload: bytes) -> None:
        if node in self.peers:
            online = payload == b"online"
            with self.db.connection_context():
                SyncPeer.insert(node=node, online=online, send_seq=rejoin.seq_floor()).on_conflict(
                    conflict_target=[SyncPeer.node], update={SyncPeer.online: online}).execute()
            if online:
                # A peer that (re)appears may have missed what was in flight before its session
                # existed: resend now rather than after RETRY_SECONDS.
                with self._lock:
                    self._inflight.pop(node, None)
                self._wake.set()

    def _handle_envelope(self, topic_sender: str, data: bytes) -> None:
        try:
            opened = open_envelope(data, self.keys, self.directory)
        except EnvelopeError as exc:
            try:
                header = peek_header(data) if not isinstance(exc, Oversized) else ("?", "?", "?", "?")
            except EnvelopeError:
                header = ("?", "?", "?", "?")
            log.warning("rejected envelope on topic of %s (%d bytes, header %s): %s: %s", topic_sender, len(data),
                        header, type(exc).__name__, exc)
            return
        if opened.sender != topic_sender:
            log.warning("rejected envelope: signed by %s but published under %s", opened.sender, topic_sender)
            return
        if opened.sender not in self.peers:
            log.warning("rejected envelope from %s: not a peer of this node", opened.sender)
            return
        with self.db.connection_context():
            if opened.kind == Kind.CHANGES:
                self._receive_batch(opened)
            elif opened.kind == Kind.ACK:
                self._receive_ack(opened)
            elif opened.kind in (Kind.REJOIN, Kind.REJOINED):
                self._receive_rejoin(opened)

    def _receive_batch(self, opened) -> None:
        peer = self._peer_row(opened.sender)
        try:
            changes, upto = codec.decode_batch(opened.payload)
        except codec.BadPayload as exc:
            log.warning("rejected batch %d from %s: %s", opened.seq, opened.sender, exc)
            return
        recv_upto = max(peer.recv_upto, upto)
        try:
            check_sequence(peer.recv_seq, opened.seq)
        except Replayed:
            if not reset_by_hand(opened.sender, changes):
                log.warning("replayed or duplicate envelope %d from %s (last %d): ignored, re-acknowledged",
                            opened.seq, opened.sender, peer.recv_seq)
                self._send_ack(opened.sender, peer.recv_upto, 0)
                return
            # A fresh envelope, signed by the peer, whose changes reuse numbers of other changes: the
            # peer was re-created without --recover. Take its new numbering from here, and keep every
            # change (apply parks the reused ones, visibly) rather than drop them as duplicates.
            log.error("%s numbers its envelopes and changes from the start again (re-installed without "
                      "'init --recover'?): its changes are kept, the reused ones parked; rebuild it with --recover",
                      opened.sender)
            recv_upto = upto
        with self.db.atomic("IMMEDIATE"):
            result = apply_batch(changes, via=opened.sender)
            SyncPeer.update(recv_seq=opened.seq, recv_upto=recv_upto,
                            last_received_at=utcnow()).where(SyncPeer.node == opened.sender).execute()
        self.progress.applied += result.applied
        self.progress.received_batches += 1
        log.debug("batch %d from %s: %s", opened.seq, opened.sender, result)
        self._send_ack(opened.sender, recv_upto, result.applied)
        self._wake.set()  # what we just applied may need forwarding

    def _receive_ack(self, opened) -> None:
        try:
            upto = codec.decode_ack(opened.payload)
        except codec.BadPayload as exc:
            log.warning("rejected ack from %s: %s", opened.sender, exc)
            return
        peer = self._peer_row(opened.sender)
        if opened.seq <= peer.recv_seq:
            log.warning("replayed ack %d from %s ignored", opened.seq, opened.sender)
            return
        SyncPeer.update(recv_seq=opened.seq, acked_change_id=max(peer.acked_change_id, upto),
                        last_acked_at=utcnow()).where(SyncPeer.node == opened.sender).execute()
        rejoin.returned_through(opened.sender, max(peer.acked_change_id, upto))
        with self._lock:
            flight = self._inflight.get(opened.sender)
            if flight is not None and upto >= flight.upto:
                del self._inflight[opened.sender]
        self._wake.set()

    def _receive_rejoin(self, opened) -> None:
        """A restored node asks central to rewind and give back its lost changes (REJOIN), or
        central says it has (REJOINED). Sequenced like every envelope, so a replay is refused."""
        peer = self._peer_row(opened.sender)
        if opened.seq <= peer.recv_seq:
            log.warning("replayed %s %d from %s ignored", opened.kind.name, opened.seq, opened.sender)
            return
        try:
            if opened.kind == Kind.REJOIN:
                request = codec.decode_rejoin(opened.payload)
            else:
                _upto, returned = codec.decode_rejoined(opened.payload)
        except codec.BadPayload as exc:
            log.warning("rejected %s from %s: %s", opened.kind.name, opened.sender, exc)
            return
        SyncPeer.update(recv_seq=opened.seq).where(SyncPeer.node == opened.sender).execute()
        if opened.kind == Kind.REJOINED:
            rejoin.finished(opened.sender, returned, list(self.peers))
            return
        upto, above, below = request
        with self._lock:
            self._inflight.pop(opened.sender, None)  # what was in flight is resent from the rewound checkpoint
        returned = rejoin.accept(opened.sender, above, below, upto)
        self._publish(opened.sender, Kind.REJOINED,
                      codec.encode_rejoined(self._peer_row(opened.sender).acked_change_id, returned))
        self._wake.set()

    # --- sending (own thread) ------------------------------------------------------------

    def _send_loop(self) -> None:
        last_progress = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=POLL_SECONDS)
            self._wake.clear()
            self.last_loop = time.monotonic()
            try:
                with self.db.connection_context():
                    self._reload_directory()
                    if self.connected.is_set():
                        self._maybe_rejoin()
                        for peer in list(self.peers.values()):
                            self._maybe_send(peer)
                    now = time.monotonic()
                    if now - last_progress >= PROGRESS_EVERY:
                        self._report_progress(now)
                        last_progress = now
            except Exception:  # noqa: BLE001 - keep syncing; the next round retries
                log.exception("send loop error")
                time.sleep(1)

    def _maybe_rejoin(self) -> None:
        """A restored node asks each peer to take it back, every RETRY_SECONDS until it answers."""
        now = time.monotonic()
        if now - self._rejoin_sent < RETRY_SECONDS:
            return
        self._rejoin_sent = now  # looked at once a RETRY_SECONDS, not on every round of the send loop
        request = rejoin.pending()
        for peer in rejoin.waiting_for(request, sorted(self.peers)):
            upto = self._peer_row(peer).recv_upto
            self._publish(peer, Kind.REJOIN, codec.encode_rejoin(upto, request["own_above"], request["own_below"]))
            log.info("restored node: asked %s to rejoin (its stream from %d, own changes above %d)", peer, upto,
                     request["own_above"])

    def _maybe_send(self, peer: Peer) -> None:
        with self._lock:
            flight = self._inflight.get(peer.node)
            if flight is not None and time.monotonic() - flight.sent_at < RETRY_SECONDS:
                return
        row = self._peer_row(peer.node)
        batch, upto = self._select(peer, row.acked_change_id)
        if not batch:
            if upto > row.acked_change_id:  # nothing there for this peer: move its checkpoint on
                SyncPeer.update(acked_change_id=upto).where(SyncPeer.node == peer.node).execute()
            return
        seq, info = self._publish(peer.node, Kind.CHANGES, codec.encode_batch(batch, upto))
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish to %s failed (%s); will retry", peer.node, info.rc)
            return
        with self._lock:
            self._inflight[peer.node] = InFlight(seq, upto, time.monotonic())
        self.progress.sent_changes += len(batch)
        log.debug("sent batch %d to %s: %d changes up to %d", seq, peer.node, len(batch), upto)

    def _select(self, peer: Peer, after: int) -> tuple[list, int]:
        """Changes for `peer` after its checkpoint, and the log id the batch covers."""
        lookup = Lookup()
        batch, seen = [], set()
        upto = after
        giving_back = rejoin.returning(peer.node)
        for change_id, change, via in read_changes(after, SCAN_LIMIT):
            if routes_to(change, via, self.me, peer, lookup) or (
                    giving_back is not None and change.origin == peer.node and giving_back.covers(change.origin_seq)):
                for _bid, earlier in backfill(change, peer, self.me):
                    if earlier.uid not in seen:
                        seen.add(earlier.uid)
                        batch.append(earlier)
                if change.uid not in seen:
                    seen.add(change.uid)
                    batch.append(change)
            upto = change_id
            if len(batch) >= BATCH_CHANGES:
                break
        return batch, upto

    def _send_ack(self, peer: str, upto: int, applied: int) -> None:
        self._publish(peer, Kind.ACK, codec.encode_ack(upto, applied))

    def _publish(self, peer: str, kind: Kind, payload: bytes) -> tuple[int, mqtt.MQTTMessageInfo]:
        """Take the next envelope sequence for `peer` (committed first) and publish, under one
        lock: batches (send thread) and acks (network thread) share the sequence, and the
        receiver refuses any sequence not above the last, so they must leave in order."""
        with self._publish_lock:
            with self.db.atomic("IMMEDIATE"):
                SyncPeer.insert(node=peer, send_seq=rejoin.seq_floor()).on_conflict_ignore().execute()
                SyncPeer.update(send_seq=SyncPeer.send_seq + 1).where(SyncPeer.node == peer).execute()
                seq = SyncPeer.get_by_id(peer).send_seq
            envelope = seal(self.keys, self.directory[peer], kind, seq, payload)
            return seq, self._client.publish(inbox_topic(self.node_id, peer), envelope, qos=1)

    # --- status for people ---------------------------------------------------------------

    def _peer_row(self, node: str) -> SyncPeer:
        row = SyncPeer.get_or_none(SyncPeer.node == node)  # read first: an INSERT OR IGNORE takes the write lock
        if row is None:
            SyncPeer.insert(node=node, send_seq=rejoin.seq_floor()).on_conflict_ignore().execute()
            row = SyncPeer.get_by_id(node)
        return row

    def _set_status(self, key: str, value: str) -> None:
        try:
            db = getattr(self, "db", None)
            if db is None:
                return
            with db.connection_context():
                write_status(key, value)
        except Exception:  # noqa: BLE001 - status is best effort
            log.exception("could not write sync status")

    def _report_progress(self, now: float) -> None:
        last_id = SyncChange.select(SyncChange.id).order_by(SyncChange.id.desc()).scalar() or 0
        waiting = {}
        for peer in self.peers.values():
            row = self._peer_row(peer.node)
            waiting[peer.node] = max(0, last_id - row.acked_change_id)
            SyncPeer.update(backlog=waiting[peer.node]).where(SyncPeer.node == peer.node).execute()
        rate = self.progress.rate(now)
        if self.progress.applied != self.progress.last_applied or any(waiting.values()):
            log.info("sync: %d changes applied (%.0f/s), %d sent, waiting per peer: %s", self.progress.applied,
                     rate, self.progress.sent_changes, waiting)
        write_status("progress", json.dumps({
            "applied": self.progress.applied, "rate": round(rate, 1), "sent": self.progress.sent_changes,
            "waiting": waiting, "at": utcnow().isoformat()}))
        self.progress.last_applied = self.progress.applied
        self.progress.last_report = now
