"""The one error the console commands show: a single line, then exit 1."""

from __future__ import annotations

from typing import Any

import click


class ConsoleError(click.ClickException):
    """Something a command reports as one line on stderr before it exits 1.

    ``status`` is the HTTP status of an error answer from the API (else None).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        """A message to show; the API's status, when it answered."""
        super().__init__(message)
        self.status = status

    def show(self, file: Any = None) -> None:
        """Print ``error: <message>`` (click's own would say ``Error:``)."""
        click.echo(f"error: {self.format_message()}", err=True, file=file)
