"""How every `siaga112` command reports a refused request: `error: field: message` per field,
or `error: message`, in English, then exit status 2. One place, so the edge, central and bridge
command groups answer alike."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from edge.services.errors import ServiceError, ValidationError


def fail(exc: ServiceError) -> NoReturn:
    from edge.i18n import translate

    if isinstance(exc, ValidationError):
        for field, message in exc.errors.items():
            click.echo(f"error: {field}: {translate(message, 'en')}", err=True)
    else:
        click.echo(f"error: {translate(exc.message, 'en', **exc.params)}", err=True)
    sys.exit(2)
