"""What every framework helper does before the view: verify, then deduplicate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from hookline.domain.dedup import Deduplicator
from hookline.domain.verifiers import InboundRequest, VerifiedEvent, Verifier
from hookline.errors import VerificationFailed

logger = logging.getLogger("hookline.integrations")


@dataclass(frozen=True, slots=True)
class EarlyAnswer:
    """An answer sent instead of calling the view: ``{"detail": ...}`` with a status."""

    status: int
    detail: str

    @property
    def body(self) -> bytes:
        """The JSON body, as FastAPI's own HTTPException answer would be."""
        return orjson.dumps({"detail": self.detail})


#: Every refusal, whatever the reason: a forger learns nothing from it.
REJECTED = EarlyAnswer(401, VerificationFailed.public_detail)
#: A repeated event: 200, so the provider stops retrying, and the view is not called.
DUPLICATE = EarlyAnswer(200, "duplicate")


class WebhookGuard:
    """Verifies a request and, with a deduplicator, lets each event id through once.

    An event whose view fails should be handled again when the provider retries, so
    the helpers call :meth:`release` then: at-least-once, not at-most-once.
    """

    def __init__(
        self,
        verifier: Verifier,
        deduplicator: Deduplicator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.deduplicator = deduplicator
        self.clock = clock

    def admit(self, request: InboundRequest) -> VerifiedEvent | EarlyAnswer:
        """The verified event to hand to the view, or the answer to send instead."""
        now = self.clock()
        try:
            event = self.verifier.verify(request, now)
        except VerificationFailed as failure:
            # The reason and the path only: the query string may carry a token.
            logger.warning(
                "inbound webhook refused: %s",
                failure.reason,
                extra={"reason": failure.reason, "path": urlsplit(request.url).path},
            )
            return REJECTED
        if (
            self.deduplicator is not None
            and event.event_id is not None
            and not self.deduplicator.first_time(event.event_id, now)
        ):
            logger.info("inbound webhook duplicate", extra={"event_id": event.event_id})
            return DUPLICATE
        return event

    def release(self, event: VerifiedEvent) -> None:
        """Forget the event's id after its view failed, so the provider's retry runs it."""
        if self.deduplicator is not None and event.event_id is not None:
            self.deduplicator.forget(event.event_id)
