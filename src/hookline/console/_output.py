"""Where the console commands write: rich consoles, tables, JSON bodies.

On a terminal, output has colour and tables; piped into a file or another program it
stays plain, unwrapped text (lists: one line per item, columns two spaces apart).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from hookline.console._text import BodyPreview

#: Width of output that goes to a file or a pipe (rich would cut it at 80 columns).
_PIPE_WIDTH = 200


def console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console on stdout (or stderr): no markup guessing, no wrapping into a pipe."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, emoji=False, soft_wrap=True)


def table(columns: Sequence[str], rows: Sequence[Sequence[str | Text]], title: str = "") -> Table:
    """A table with a header row; cells are plain text (never markup)."""
    made = Table(title=title or None, header_style="bold", show_edge=False, pad_edge=False)
    for column in columns:
        made.add_column(column, overflow="fold")
    for row in rows:
        made.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return made


def print_rows(
    columns: Sequence[str], rows: Sequence[Sequence[str]], *, file: IO[str] | None = None
) -> None:
    """A list: a table on a terminal, else one line per row (columns two spaces apart)."""
    stream = file or sys.stdout
    if not stream.isatty():
        for row in rows:
            stream.write("  ".join(row) + "\n")
        stream.flush()
        return
    console(file=stream).print(table(columns, rows))


def print_body(out: Console, preview: BodyPreview) -> None:
    """A request or message body: JSON highlighted, anything else as plain text."""
    if preview.is_json:
        out.print(Syntax(preview.text, "json", theme="ansi_dark", background_color="default"))
    else:
        out.print(Text(preview.text))
    if preview.cut:
        out.print(Text(preview.note(), style="dim"))
