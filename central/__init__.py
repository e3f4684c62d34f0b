"""Central: the regency's consolidated record (Diskominfotik).

Central runs the same incident app as every node (`edge`), on the same data model, with
node role "central"; this package adds the areas only central has, one blueprint each:
`overview` (live board and map), `regency_reports` (monthly and quarterly reports and their
exports), `exports` (CAP 1.2 / EIDO for the national centre) and `nodes` (enrolment and
revocation). `register(app)` wires them into the app factory.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from central.exports import bp as exports_bp
    from central.nodes import bp as nodes_bp
    from central.overview import bp as overview_bp
    from central.regency_reports import bp as regency_bp

    for bp in (overview_bp, regency_bp, exports_bp, nodes_bp):
        app.register_blueprint(bp)
