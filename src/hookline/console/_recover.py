"""``hookline recover`` and ``hookline resend``: send messages again, and follow the work."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hookline.console._client import Api
from hookline.console._publish import app_path
from hookline.console._text import iso

#: Svix's delivery statuses, as ``GET .../endpoint/{id}/msg?status=`` takes them.
_PENDING, _FAILED, _SENDING = 1, 2, 3


def endpoint_path(app: str, endpoint: str) -> str:
    """``/api/v1/app/<app>/endpoint/<endpoint>``."""
    return f"{app_path(app)}/endpoint/{quote(endpoint, safe='')}"


def start(api: Api, app: str, endpoint: str, since: float, until: float | None) -> dict[str, Any]:
    """Ask for the recovery; the background task the API answers with."""
    body = {"since": iso(since)}
    if until is not None:
        body["until"] = iso(until)
    task: dict[str, Any] = api.post(f"{endpoint_path(app, endpoint)}/recover", body)
    return task


def finish(
    api: Api, task: dict[str, Any], *, sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[dict[str, Any]], None] = lambda task: None, interval: float = 0.5,
) -> dict[str, Any]:  # fmt: skip
    """Poll the background task until it is no longer running; its last state."""
    while task.get("status") == "running":
        on_poll(task)
        sleep(interval)
        task = api.get(f"/api/v1/background-task/{quote(str(task['id']), safe='')}")
    return task


@dataclass(frozen=True, slots=True)
class Backlog:
    """The window's deliveries still to be made, and those that failed (again)."""

    pending: int
    failed: int


def backlog(api: Api, app: str, endpoint: str, since: float, until: float) -> Backlog:
    """Count the endpoint's undelivered messages created in ``[since, until)``."""
    path = f"{endpoint_path(app, endpoint)}/msg"
    # ``after`` is exclusive; recovery's ``since`` is not.
    window = {"after": iso(since - 1e-6), "before": iso(until)}

    def count(status: int) -> int:
        return sum(1 for _ in api.every(path, {**window, "status": status}))

    return Backlog(pending=count(_PENDING) + count(_SENDING), failed=count(_FAILED))


def redeliver(
    api: Api, app: str, endpoint: str, since: float, until: float, timeout: float,
    on_progress: Callable[[Backlog], None], *, clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep, interval: float = 0.5,
) -> Backlog:  # fmt: skip
    """Poll until nothing in the window is pending any more, or ``timeout``; the last count."""
    deadline = clock() + timeout
    while True:
        left = backlog(api, app, endpoint, since, until)
        on_progress(left)
        if left.pending == 0 or clock() >= deadline:
            return left
        sleep(min(interval, max(deadline - clock(), 0.0)))


def attempted_endpoints(api: Api, app: str, message: str) -> list[str]:
    """The ids of the endpoints ``message`` was attempted at, in the order first tried."""
    path = f"{app_path(app)}/attempt/msg/{quote(message, safe='')}"
    seen: dict[str, None] = {}
    for attempt in reversed(list(api.every(path, {}))):
        seen.setdefault(str(attempt["endpointId"]), None)
    return list(seen)


def resend(api: Api, app: str, message: str, endpoint: str) -> None:
    """Queue ``message`` for ``endpoint`` again, now, whatever its state (202)."""
    msg = quote(message, safe="")
    api.post(f"{app_path(app)}/msg/{msg}/endpoint/{quote(endpoint, safe='')}/resend", None)
