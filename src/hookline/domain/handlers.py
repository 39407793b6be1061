"""Python handlers of received events: the ``@handlers.on("type")`` registry.

Pure records and a registry; ``delivery.handlers`` runs them for deliveries to
``handler:<group>`` endpoints, with the engine's retries and attempt log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hookline.errors import ConfigError

Handler = Callable[["InboundEvent"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """What a handler receives: the event, its id (stable across retries), its application.

    ``app_id`` says whose event it is: a handler serving several applications
    must check it before acting.
    """

    id: str
    event_type: str
    body: bytes
    app_id: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)


class Handlers:
    """A group of handlers by event type; ``"*"`` handles every type without its own."""

    def __init__(self, group: str = "default") -> None:
        self.group = group
        self._by_type: dict[str, list[Handler]] = {}

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Decorator: run the function for events of these types."""
        if not event_types:
            raise ConfigError("Handlers.on needs at least one event type (or '*')")

        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self._by_type.setdefault(event_type, []).append(handler)
            return handler

        return register

    def for_type(self, event_type: str) -> list[Handler]:
        """The handlers that run for ``event_type``."""
        return self._by_type.get(event_type) or self._by_type.get("*", [])
