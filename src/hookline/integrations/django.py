"""A Django view decorator that verifies (and optionally deduplicates) a webhook.

::

    from hookline import MemoryDeduplicator, build_verifier
    from hookline.integrations.django import verify_webhook

    @verify_webhook(build_verifier("shopify", {}, [SECRET]), deduplicator=MemoryDeduplicator())
    def shopify_webhook(request):
        event = request.webhook  # the VerifiedEvent
        payload = json.loads(request.body)
        return HttpResponse(status=204)

The decorated view is CSRF-exempt (providers send no CSRF token; the signature is
the proof). A failed check answers 401 ``{"detail": "invalid signature"}`` and a
repeated event id 200 ``{"detail": "duplicate"}``, without calling the view. If the
view raises or answers 5xx, the id is forgotten so the provider's retry is handled.
Synchronous views only.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from hookline.domain.dedup import Deduplicator
from hookline.domain.verifiers import InboundRequest, Verifier
from hookline.integrations._common import EarlyAnswer, WebhookGuard

__all__ = ["verify_webhook"]

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponseBase]


def verify_webhook(
    verifier: Verifier,
    *,
    deduplicator: Deduplicator | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[View[P]], View[P]]:
    """Decorate a view so that it runs only for verified, first-seen webhooks.

    The view finds the :class:`VerifiedEvent` in ``request.webhook``. The URL checked
    (Twilio signs it) is ``request.build_absolute_uri()``: behind a proxy, set
    ``USE_X_FORWARDED_HOST`` and ``SECURE_PROXY_SSL_HEADER``.
    """
    guard = WebhookGuard(verifier, deduplicator, clock)

    def decorate(view: View[P]) -> View[P]:
        @functools.wraps(view)
        def verified_view(
            request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponseBase:
            inbound = InboundRequest(
                request.method or "",
                request.build_absolute_uri(),
                dict(request.headers),
                request.body,
            )
            admission = guard.admit(inbound)
            if isinstance(admission, EarlyAnswer):
                return HttpResponse(
                    admission.body, status=admission.status, content_type="application/json"
                )
            request.webhook = admission  # type: ignore[attr-defined]
            try:
                response = view(request, *args, **kwargs)
            except Exception:
                guard.release(admission)
                raise
            if response.status_code >= 500:
                guard.release(admission)
            return response

        return csrf_exempt(verified_view)

    return decorate
