"""The whole ASGI app that ``hookline serve`` and ``hookline api`` run, composed here
because neither face knows the other: the inbound gateway (``/in/<token>``), then the
web faces (``/dashboard``, ``/portal``, ``/static``), then the management API."""

from __future__ import annotations

import time
from collections.abc import Callable

from hookline.api.app import create_api
from hookline.api.context import Context
from hookline.api.inbound import Gateway
from hookline.settings import Settings
from hookline.storage.base import Storage
from hookline.web import WebFront, create_web


def create_app(
    settings: Settings, storage: Storage, *, clock: Callable[[], float] = time.time
) -> Gateway:
    """The gateway, the web faces and the API over an opened storage.

    The web faces share the API's token cache (a token revoked through this process
    is refused by both at once), its event type cache and its publish batcher.
    """
    api = create_api(settings, storage, clock=clock)
    context: Context = api.state.context
    web = create_web(
        storage, settings, clock=clock, find_token=context.tokens.find,
        event_types=context.event_types, submit=context.publisher.submit,
        publish_limits=context.publish_limits, failures=context.failures,
    )  # fmt: skip
    return Gateway(WebFront(api, web), context, settings.max_request_bytes)
