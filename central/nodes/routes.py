from __future__ import annotations

from central.nodes import bp  # noqa: F401


@bp.get("/")
def index():  # placeholder until the area is built
    from flask import render_template_string

    from edge.enums import Role
    from edge.web import roles_required

    @roles_required(Role.CENTRAL, Role.SUPERVISOR, Role.ADMIN)
    def page():
        return render_template_string('{% extends "base.html" %}{% block content %}'
                                      '<h1>{{ _("Node") }}</h1>{% endblock %}')

    return page()
