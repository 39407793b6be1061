"""``hookline tail``: follow an application's attempts as they are made.

The Svix API lists attempts per endpoint (or per message), not per application, so
without ``--endpoint`` each poll lists the application's endpoints, then each one's
attempts after the feed's window start, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from hookline.console._client import Api
from hookline.console._errors import ConsoleError
from hookline.console._publish import app_path
from hookline.console._text import AttemptFeed, AttemptView, iso


@dataclass(frozen=True, slots=True)
class TailOptions:
    """What to follow, from when, and when to stop."""

    app: str
    endpoint: str | None
    since: float
    status: int | None = None
    count: int | None = None
    interval: float = 1.0


def _label(item: dict[str, object]) -> str:
    return str(item.get("uid") or item["id"])


def endpoints(api: Api, options: TailOptions) -> dict[str, str]:
    """The endpoints to follow: id -> what to call it (uid, else id)."""
    base = app_path(options.app)
    if options.endpoint is not None:
        found = api.get(f"{base}/endpoint/{quote(options.endpoint, safe='')}")
        return {str(found["id"]): _label(found)}
    return {str(item["id"]): _label(item) for item in api.every(f"{base}/endpoint")}


def poll(
    api: Api, options: TailOptions, followed: dict[str, str], feed: AttemptFeed
) -> list[AttemptView]:
    """One round: the attempts not shown yet, across the followed endpoints, oldest first."""
    base = app_path(options.app)
    params: dict[str, str | int | bool] = {"after": iso(feed.window_start()), "with_content": False}
    if options.status is not None:
        params["status"] = options.status
    found: list[AttemptView] = []
    for endpoint_id in followed:
        try:
            items = list(api.every(f"{base}/attempt/endpoint/{endpoint_id}", params))
        except ConsoleError as error:
            if error.status == 404 and options.endpoint is None:
                continue  # deleted since the endpoint list was read
            raise
        found.extend(AttemptView.from_api(item) for item in items)
    return feed.fresh(found)


def follow(
    api: Api, options: TailOptions, show: Callable[[AttemptView, str], None],
    *, sleep: Callable[[float], None] = time.sleep,
) -> int:  # fmt: skip
    """Show attempts as they come until ``count`` are shown (or forever); how many were."""
    feed = AttemptFeed(options.since)
    followed = endpoints(api, options)
    shown = 0
    while True:
        for attempt in poll(api, options, followed, feed):
            show(attempt, followed.get(attempt.endpoint_id, attempt.endpoint_id))
            shown += 1
            if options.count is not None and shown >= options.count:
                return shown
        sleep(options.interval)
        if options.endpoint is None:
            followed = endpoints(api, options)
