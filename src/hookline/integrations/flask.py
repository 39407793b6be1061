"""A Flask view decorator that verifies (and optionally deduplicates) a webhook.

::

    from flask import g, request
    from hookline import MemoryDeduplicator, build_verifier
    from hookline.integrations.flask import verify_webhook

    @app.post("/webhooks/github")
    @verify_webhook(build_verifier("github", {}, [SECRET]), deduplicator=MemoryDeduplicator())
    def github_webhook():
        event = g.webhook  # the VerifiedEvent
        payload = request.get_json()  # the body is read once and cached
        return "", 204

A failed check answers 401 ``{"detail": "invalid signature"}`` and a repeated event
id 200 ``{"detail": "duplicate"}``, without calling the view. If the view raises or
answers 5xx, the id is forgotten so the provider's retry is handled.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec

import flask
from flask.typing import ResponseReturnValue

from hookline.domain.dedup import Deduplicator
from hookline.domain.verifiers import InboundRequest, Verifier
from hookline.integrations._common import EarlyAnswer, WebhookGuard

__all__ = ["verify_webhook"]

P = ParamSpec("P")


def verify_webhook(
    verifier: Verifier,
    *,
    deduplicator: Deduplicator | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, flask.Response]]:
    """Decorate a view so that it runs only for verified, first-seen webhooks.

    The view finds the :class:`VerifiedEvent` in ``flask.g.webhook``. The URL checked
    (Twilio signs it) is ``request.url``: behind a proxy, use Werkzeug's ``ProxyFix``.
    """
    guard = WebhookGuard(verifier, deduplicator, clock)

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, flask.Response]:
        @functools.wraps(view)
        def verified_view(*args: P.args, **kwargs: P.kwargs) -> flask.Response:
            request = flask.request
            inbound = InboundRequest(
                request.method, request.url, dict(request.headers), request.get_data(cache=True)
            )
            admission = guard.admit(inbound)
            if isinstance(admission, EarlyAnswer):
                return flask.Response(
                    admission.body, status=admission.status, mimetype="application/json"
                )
            flask.g.webhook = admission
            try:
                response = flask.make_response(view(*args, **kwargs))
            except Exception:
                guard.release(admission)
                raise
            if response.status_code >= 500:
                guard.release(admission)
            return response

        return verified_view

    return decorate
