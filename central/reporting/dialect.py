"""The one place where a report query depends on the database engine.

Why this exists: central runs on SQLite by default and on PostgreSQL for a province-wide
deployment, through the same peewee models. Every other report query is a plain peewee
expression that both engines understand; extracting the hour of a timestamp is not
(SQLite has strftime, PostgreSQL EXTRACT), so that expression is built here, with one
branch per engine. Percentiles and medians are computed in Python over fetched durations.
"""

from __future__ import annotations

from peewee import Expression, Field, PostgresqlDatabase, fn

from edge.models import db_proxy


def utc_hour(column: Field) -> Expression:
    """The hour (0-23, an integer) of a stored naive-UTC timestamp column."""
    if isinstance(db_proxy.obj, PostgresqlDatabase):
        return fn.date_part("hour", column).cast("INTEGER")
    return fn.strftime("%H", column).cast("INTEGER")
