"""/healthz, /metrics and the request hooks that time every request for /metrics.

/metrics access: a client on loopback (127.0.0.1, ::1) whose request carries no
X-Forwarded-For (so a reverse proxy on the same machine does not open it to the world),
or anyone presenting `Authorization: Bearer <token>` where the token is the content of
DATA_DIR/metrics_token or $SIAGA112_METRICS_TOKEN. Everything else gets 403.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty folder per
start, e.g. the unit's RuntimeDirectory) so request counts are summed over the workers.
"""

from __future__ import annotations

import hmac
import os
import time
from pathlib import Path

from flask import Flask, Response, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from edge.health import bp
from edge.services.health import DiskLimits, health, metric_families

TOKEN_FILE = "metrics_token"
TOKEN_ENV = "SIAGA112_METRICS_TOKEN"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus (Debian 12 ships 2.42) reads; generate_latest writes it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeCollector:
    """Collects the node's figures from its database at every scrape."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def collect(self):
        yield from metric_families(self.data_dir)


class RequestMetrics:
    """The app's own registry: request latency per endpoint and request counts by status."""

    def __init__(self, data_dir: Path) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("siaga112_http_request_duration_seconds", "Time to answer a request, by endpoint.",
                                 ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.requests = Counter("siaga112_http_requests", "Requests answered, by endpoint and HTTP status.",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.node = NodeCollector(data_dir)
        self.registry.register(self.node)

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(self.node)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _endpoint() -> str:
    return request.endpoint or "unmatched"  # unknown URLs share one label: no unbounded cardinality


def install(app: Flask) -> None:
    """Register the blueprint and time every request (the first before- and a last after-request hook)."""
    metrics = RequestMetrics(Path(app.config["DATA_DIR"]))
    app.extensions["siaga112_metrics"] = metrics
    app.register_blueprint(bp)

    def start_timer() -> None:
        g.request_started = time.perf_counter()

    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            endpoint, method = _endpoint(), request.method
            metrics.latency.labels(endpoint, method).observe(time.perf_counter() - started)
            metrics.requests.labels(endpoint, method, str(response.status_code)).inc()
        return response


def _disk_limits() -> DiskLimits:
    return DiskLimits.from_env(current_app.config.get("HEALTH_DISK_FAIL_MB"),
                               current_app.config.get("HEALTH_DISK_WARN_MB"))


@bp.get("/healthz")
def healthz():
    """ok / degraded answer 200, fail 503; the body says which check and why."""
    level, checks = health(Path(current_app.config["DATA_DIR"]), _disk_limits())
    body = {"status": level.value,
            "checks": {c.name: {"status": c.level.value, "detail": c.detail, **c.data} for c in checks}}
    response = jsonify(body)
    response.status_code = 503 if level.value == "fail" else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _metrics_token() -> str | None:
    token = os.environ.get(TOKEN_ENV)
    path = Path(current_app.config["DATA_DIR"]) / TOKEN_FILE
    if not token and path.exists():
        token = path.read_text(encoding="utf-8").strip()
    return token or None


def metrics_allowed() -> bool:
    token = _metrics_token()
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    return request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers


@bp.get("/metrics")
def metrics():
    if not metrics_allowed():
        return Response("metrics: loopback or bearer token only\n", 403, mimetype="text/plain")
    body = current_app.extensions["siaga112_metrics"].exposition()
    return Response(body, 200, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
