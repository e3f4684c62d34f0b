"""Health and metrics over HTTP: /healthz for load balancers and watchdogs, /metrics for Prometheus.

Both are open without a login (a monitor has no session); /metrics answers only loopback
clients or a bearer token (edge/health/routes.py). Each opens its own database connection
and survives a broken database, so the app excludes them from its per-request connection.
`install(app)` registers the blueprint and the request latency and count hooks.
"""

from flask import Blueprint

bp = Blueprint("health", __name__)

# Endpoints that open (and survive failing to open) their own database connection.
OWN_CONNECTION_ENDPOINTS = ("health.healthz", "health.metrics")

from edge.health.routes import install  # noqa: E402,F401
