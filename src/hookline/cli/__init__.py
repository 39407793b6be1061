"""The ``hookline`` command (the ``hookline.cli:main`` entry point).

Its commands, by concern: ``server`` (serve, api, worker), ``database`` (migrate, rekey,
keygen), ``backups`` (backup, restore), ``access`` (token, source), ``data`` (backfill,
export, catalogue); the commands
for people (send, tail, recover, verify, listen) come from ``hookline.console``.
"""

from __future__ import annotations

from hookline.cli import access, backups, data, database, server
from hookline.cli._common import main
from hookline.console import commands as console_commands

__all__ = ["main"]

# The commands for people are clients of a running hookline, or of nothing at all.
for _command in (
    *server.COMMANDS, *database.COMMANDS, *backups.COMMANDS, *access.COMMANDS, *data.COMMANDS,
    *console_commands.COMMANDS,
):  # fmt: skip
    main.add_command(_command)
