"""Closed cases in the formats other systems read: the per-case record (Singkawang SOP: "data per
kasus" to the central data store), CAP 1.2 XML and EIDO-style JSON.

`case_record` loads cases from the database into one JSON document each (the canonical record,
with the caller-privacy view applied); `cap` and `eido` are pure functions from that record;
`feed` orders closed cases by when they reached this node, for a pull-once cursor; `bundle`
packs a period's cases as files (zip, JSON, JSON lines, CSV) for the UI and the CLI. See
docs/exports.md.
"""
