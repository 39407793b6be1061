"""``hookline send``: publish an event and, if asked, wait for each endpoint's answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hookline.console._client import Api
from hookline.console._text import AttemptView


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint the message is routed to."""

    endpoint_id: str
    label: str  # its uid, else its id
    url: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of the message at one endpoint: its latest attempt, if any yet."""

    target: Target
    latest: AttemptView | None
    attempts: int

    @property
    def known(self) -> bool:
        """An attempt has been recorded."""
        return self.latest is not None

    @property
    def succeeded(self) -> bool:
        """The latest attempt succeeded."""
        return self.latest is not None and self.latest.succeeded

    def row(self) -> list[str]:
        """Cells of the result table."""
        latest = self.latest
        if latest is None:
            return [self.target.label, self.target.url, "-", "-", "-", "0", "no attempt yet"]
        code = str(latest.status_code) if latest.status_code else "---"
        return [
            self.target.label, self.target.url, code, f"{latest.duration_ms} ms",
            latest.error_class or "-", str(self.attempts), "ok" if latest.succeeded else "failed",
        ]  # fmt: skip


COLUMNS = ("endpoint", "url", "status", "duration", "error", "attempts", "result")


def outcomes(targets: Sequence[Target], attempts: Iterable[AttemptView]) -> list[Outcome]:
    """Each target's latest attempt and attempt count, in the targets' order."""
    by_endpoint: dict[str, list[AttemptView]] = {}
    for attempt in attempts:
        by_endpoint.setdefault(attempt.endpoint_id, []).append(attempt)
    made = []
    for target in targets:
        mine = sorted(by_endpoint.get(target.endpoint_id, []), key=lambda a: (a.at, a.id))
        made.append(Outcome(target, mine[-1] if mine else None, len(mine)))
    return made


def app_path(app: str) -> str:
    """``/api/v1/app/<app>``, the application's id or uid quoted for a path."""
    return f"/api/v1/app/{quote(app, safe='')}"


def publish(
    api: Api, app: str, event_type: str, payload: dict[str, Any], *,
    channels: Sequence[str] = (), event_id: str | None = None, priority: str = "normal",
) -> dict[str, Any]:  # fmt: skip
    """Publish one message; the API's answer (its ``id`` first of all)."""
    body: dict[str, Any] = {"eventType": event_type, "payload": payload, "priority": priority}
    if channels:
        body["channels"] = list(channels)
    if event_id:
        body["eventId"] = event_id
    message: dict[str, Any] = api.post(f"{app_path(app)}/msg", body)
    return message


def targets(
    api: Api, app: str, event_type: str, payload: dict[str, Any], channels: Sequence[str]
) -> list[Target]:
    """The endpoints this message is routed to (the routing preview's matches)."""
    body: dict[str, Any] = {"eventType": event_type, "payload": payload}
    if channels:
        body["channels"] = list(channels)
    preview = api.post(f"{app_path(app)}/routing/preview", body)
    return [
        Target(item["endpointId"], item.get("uid") or item["endpointId"], item["url"])
        for item in preview["data"]
        if item["matched"]
    ]


def wait(
    api: Api, app: str, msg_id: str, routed: Sequence[Target], timeout: float,
    *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    interval: float = 0.2,
) -> list[Outcome]:  # fmt: skip
    """Poll the message's attempts until every routed endpoint has one, or ``timeout``."""
    deadline = clock() + timeout
    path = f"{app_path(app)}/attempt/msg/{quote(msg_id, safe='')}"
    while True:
        found = [AttemptView.from_api(a) for a in api.every(path, {"with_content": False})]
        result = outcomes(routed, found)
        if all(o.known for o in result) or clock() >= deadline:
            return result
        sleep(min(interval, max(deadline - clock(), 0.0)))
