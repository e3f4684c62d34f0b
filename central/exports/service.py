"""What the export page and the API share: who may export, which privacy view an export gets,
and how many closed cases a period holds. Views stay thin; the formats are central.interchange."""

from __future__ import annotations

from typing import Any

from central.interchange.bundle import Period
from edge.api.auth import EXPORT_ROLES
from edge.enums import IncidentStatus
from edge.models import Call, Incident
from edge.services.privacy import CallerView, Scrubber, export_view

__all__ = ["EXPORT_ROLES", "export_scrubber", "forced_pseudonyms", "latest_closed", "period_counts",
           "wants_pseudonyms"]


def wants_pseudonyms(args: Any) -> bool:
    return str(args.get("pseudonymise", "")).strip().lower() in ("1", "true", "ya", "yes", "on")


def export_scrubber(role: str, args: Any) -> Scrubber:
    """Full data only for a role that sees it and did not tick "pseudonymise"; else pseudonyms."""
    return Scrubber(export_view(role, wants_pseudonyms(args)))


def forced_pseudonyms(role: str) -> bool:
    return export_view(role, False) == CallerView.PSEUDONYMISED


def period_counts(period: Period) -> dict[str, int]:
    closed = Incident.select().where(
        (Incident.status == IncidentStatus.CLOSED) & (Incident.closed_at >= period.start_utc)
        & (Incident.closed_at < period.end_utc)).count()
    calls = Call.select().where((Call.rung_at >= period.start_utc) & (Call.rung_at < period.end_utc)).count()
    return {"cases": closed, "calls": calls}


def latest_closed(period: Period, limit: int = 20) -> list[Incident]:
    """The period's most recently closed cases, for per-case downloads on the page."""
    return list(Incident.select().where(
        (Incident.status == IncidentStatus.CLOSED) & (Incident.closed_at >= period.start_utc)
        & (Incident.closed_at < period.end_utc)).order_by(Incident.closed_at.desc()).limit(limit))
