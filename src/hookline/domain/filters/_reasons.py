"""Values shown in a filter's reasons: compact JSON, cut short, never a long walk."""

from __future__ import annotations

import json
from typing import Any

_SHOWN = 40  # characters of a value shown in a reason


def _render(value: object) -> str:
    """Compact JSON for a reason, cut to about 40 characters; never raises, never walks far."""
    parts: list[str] = []
    _render_into(value, parts, _SHOWN + 1)
    text = "".join(parts)
    text = text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates


def _render_into(value: object, parts: list[str], room: int) -> int:
    if room <= 0:
        return room
    if isinstance(value, str):
        piece = json.dumps(value[:room], ensure_ascii=False)
    elif value is None or isinstance(value, bool):
        piece = json.dumps(value)
    elif isinstance(value, int):
        piece = str(value) if value.bit_length() <= 1000 else f"<{value.bit_length()}-bit integer>"
    elif isinstance(value, float):
        piece = repr(value)
    elif isinstance(value, list | dict):
        return _render_container(value, parts, room)
    else:
        piece = f"<{type(value).__name__}>"
    parts.append(piece)
    return room - len(piece)


def _render_container(value: list[object] | dict[Any, object], parts: list[str], room: int) -> int:
    is_list = isinstance(value, list)
    parts.append("[" if is_list else "{")
    room -= 1
    entries = enumerate(value) if isinstance(value, list) else value.items()
    for position, (key, item) in enumerate(entries):
        if room <= 0:
            return room
        if position:
            parts.append(", ")
            room -= 2
        if not is_list:
            room = _render_into(str(key), parts, room)
            parts.append(": ")
            room -= 2
        room = _render_into(item, parts, room)
    parts.append("]" if is_list else "}")
    return room - 1
