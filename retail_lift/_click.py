"""Shared helpers of the ``retail-lift`` sub-commands."""

from __future__ import annotations

import click


def fail(message: str) -> None:
    """Print ``retail-lift: error: <message>`` on stderr and exit with status 2 (no traceback)."""
    click.echo(f"retail-lift: error: {message}", err=True)
    raise SystemExit(2)
