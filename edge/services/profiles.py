"""The node's active routing profile: stored in the database so central can change it.

`edge.profile` parses and validates profile files; this module installs a profile
into the database (with its agency directory) and hands the active one to services.
"""

from __future__ import annotations

import json
from functools import lru_cache

from edge.ids import stable_id
from edge.models import Agency, RoutingProfile
from edge.profile import Profile
from edge.services import node_id, write_tx
from edge.services.errors import NotFound


@lru_cache(maxsize=8)
def _parse(doc: str) -> Profile:
    return Profile.from_dict(json.loads(doc))


def active_profile() -> Profile:
    """The profile in force on this node."""
    row = RoutingProfile.get_or_none(RoutingProfile.active == True)  # noqa: E712
    if row is None:
        raise NotFound("Belum ada profil rute aktif")
    return _parse(row.doc)


def profile_for(profile_id: str) -> Profile:
    """The profile a case was recorded under (its SOP standards stay those it was taken
    with after a switch); the active profile if that one is unknown here."""
    row = RoutingProfile.get_or_none(RoutingProfile.profile_id == profile_id) if profile_id else None
    return _parse(row.doc) if row is not None else active_profile()


def install_profile(profile: Profile, activate: bool = True) -> RoutingProfile:
    """Store (or replace) a profile and create any agency of its directory not yet known."""
    with write_tx():
        doc = json.dumps(profile.to_dict(), sort_keys=True, ensure_ascii=False)
        row = RoutingProfile.get_or_none(RoutingProfile.profile_id == profile.id)
        is_new = row is None
        if is_new:
            row = RoutingProfile(id=stable_id("profile", profile.id), profile_id=profile.id, node=node_id())
        row.name = profile.name
        row.doc = doc
        if activate:
            RoutingProfile.update(active=False).where(RoutingProfile.profile_id != profile.id).execute()
            row.active = True
        row.save(force_insert=is_new)
        for spec in profile.agencies:
            agency = Agency.get_or_none(Agency.code == spec.code)
            if agency is None:
                Agency.create(id=stable_id("agency", spec.code), code=spec.code, name=spec.name_id,
                              name_en=spec.name_en, kind=spec.kind,
                              node=node_id())
            elif (agency.name, agency.name_en, agency.kind) != (spec.name_id, spec.name_en, spec.kind):
                agency.name, agency.name_en, agency.kind = spec.name_id, spec.name_en, spec.kind
                agency.save()
    return row


def agencies_by_code() -> dict[str, Agency]:
    return {a.code: a for a in Agency.select().where(Agency.active == True)}  # noqa: E712
