"""A FastAPI dependency that verifies (and optionally deduplicates) a webhook.

::

    from hookline import MemoryDeduplicator, VerifiedEvent, build_verifier
    from hookline.integrations.fastapi import verified_webhook

    stripe_event = verified_webhook(
        build_verifier("stripe", {}, [STRIPE_SECRET]), deduplicator=MemoryDeduplicator()
    )

    @app.post("/webhooks/stripe")
    async def stripe_webhook(
        request: Request, event: Annotated[VerifiedEvent, Depends(stripe_event)]
    ) -> None:
        payload = await request.json()  # the body is read once and cached

A failed check answers 401 ``{"detail": "invalid signature"}`` and a repeated event
id 200 ``{"detail": "duplicate"}``, both before the view runs. If the view raises,
the id is forgotten so the provider's retry is handled.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from fastapi import HTTPException, Request

from hookline.domain.dedup import Deduplicator
from hookline.domain.verifiers import InboundRequest, VerifiedEvent, Verifier
from hookline.integrations._common import EarlyAnswer, WebhookGuard

__all__ = ["verified_webhook"]


def verified_webhook(
    verifier: Verifier,
    *,
    deduplicator: Deduplicator | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[Request], AsyncIterator[VerifiedEvent]]:
    """Build a dependency whose value is the request's :class:`VerifiedEvent`.

    The URL checked (Twilio signs it) is the one the app sees: behind a proxy, run
    uvicorn with ``--proxy-headers`` so the scheme and host are the public ones.
    """
    guard = WebhookGuard(verifier, deduplicator, clock)

    async def verified(request: Request) -> AsyncIterator[VerifiedEvent]:
        inbound = InboundRequest(
            request.method, str(request.url), request.headers, await request.body()
        )
        admission = guard.admit(inbound)
        if isinstance(admission, EarlyAnswer):
            raise HTTPException(admission.status, detail=admission.detail)
        try:
            yield admission
        except Exception:
            guard.release(admission)
            raise

    return verified
