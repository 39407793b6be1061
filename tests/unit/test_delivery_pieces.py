"""The worker's pure pieces, alone: slot accounting, building a request, choosing a channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import orjson

from hookline.delivery.channels import Channels, Sent
from hookline.delivery.request import RequestConfig, build, recorded, requests, shape_all
from hookline.delivery.slots import Slots
from hookline.domain import signing
from hookline.domain.controls import Batching, Controls
from hookline.domain.destinations import Destination
from hookline.domain.models import SigningKey
from hookline.domain.outcome import MASKED, AttemptResult, ErrorClass
from hookline.domain.shaping import BATCH_SIZE_HEADER
from hookline.storage.base import ClaimedDelivery

NOW = 1_700_000_000.0
SECRET = signing.generate_secret()
OLD = signing.generate_secret()
CONFIG = RequestConfig(user_agent="hookline-test", send_svix_headers=False)


def claimed(n: int = 1, **fields: object) -> ClaimedDelivery:
    made = ClaimedDelivery(
        id=f"dlv_{n}", msg_id=f"msg_{n}", endpoint_id="ep_1", app_id="app_1", attempts=0,
        manual=False, event_type="invoice.paid", payload=b'{"n": %d}' % n,
        url="https://example.com/hook", endpoint_disabled=False, headers={}, secret=SECRET,
        old_secrets=(), retry_schedule=None, failing_since=None,
    )  # fmt: skip
    return replace(made, **fields)  # type: ignore[arg-type]


# slots ---------------------------------------------------------------------------------


def test_a_claim_waits_for_a_quarter_of_the_slots() -> None:
    """With few slots free and requests out, the worker waits rather than claim."""
    slots = Slots(concurrency=8, endpoint_concurrency=4, claim_batch=8)
    assert slots.refill_at == 2
    assert not slots.should_wait()
    for _ in range(7):
        slots.start("ep_1", 1)
    assert (slots.free, slots.should_wait()) == (1, True)
    slots.finish("k", "ep_1", 1)
    assert (slots.free, slots.should_wait(), slots.wanted()) == (2, False, 2)


def test_an_endpoint_at_its_cap_is_blocked_and_its_slot_frees_work() -> None:
    """An endpoint at its cap is noted at the claim; its finishing request wakes the worker."""
    slots = Slots(concurrency=100, endpoint_concurrency=2, claim_batch=100)
    slots.start("ep_1", 1)
    slots.start("ep_1", 1)
    for _ in range(97):
        slots.start("ep_2", 1)
    assert slots.at_cap("ep_1")
    slots.claimed()
    assert "ep_1" in slots.blocked
    assert slots.busy() == {"ep_1": 2, "ep_2": 97}
    assert slots.finish("r", "ep_1", 1)  # a blocked endpoint's slot: claim again
    assert not slots.at_cap("ep_1")


def test_a_finished_request_forgets_its_endpoint_once_none_is_left() -> None:
    """Per-endpoint counts drop to nothing, so busy() names only endpoints in flight."""
    slots = Slots(concurrency=10, endpoint_concurrency=4, claim_batch=10)
    slots.start("ep_1", 3)  # a batch of three in one request
    slots.grow(2)  # topped up
    assert slots.free == 5
    slots.finish("r", "ep_1", 5)
    assert (slots.free, slots.busy()) == (10, {})


def test_the_slow_lane_frees_slots_up_to_half_the_concurrency() -> None:
    """Slow requests give their slots back, but the lane holds half of concurrency at most."""
    slots = Slots(concurrency=4, endpoint_concurrency=4, claim_batch=4)
    for _ in range(4):
        slots.start("ep_1", 1)
    assert slots.free == 0
    assert slots.to_slow_lane("a", 1)
    assert slots.to_slow_lane("b", 1)
    assert not slots.to_slow_lane("c", 1)  # the lane is full
    assert not slots.to_slow_lane("a", 1)  # already in it
    assert slots.free == 2
    slots.finish("a", "ep_1", 1)  # a slow request ends: its lane place frees, not a slot
    assert (slots.free, slots.slow_deliveries) == (2, 1)


# building a request ----------------------------------------------------------------------


def test_one_delivery_is_sent_as_its_payload_signed_under_its_message_id() -> None:
    """The body is the stored bytes, signed under the message id, with the endpoint's headers."""
    delivery = claimed(headers={"x-team": "billing"})
    request = build([delivery], shape_all([delivery], None), NOW, CONFIG)
    assert request.body is delivery.payload
    assert request.msg_id == "msg_1"
    assert not request.reshaped
    assert request.headers["x-team"] == "billing"
    assert request.headers["user-agent"] == "hookline-test"
    assert "svix-id" not in request.headers
    signing.verify(SECRET, request.body, request.headers, int(NOW))


def test_old_secrets_sign_until_their_grace_ends() -> None:
    """A rotated-out secret signs too while its grace lasts, and not after."""
    keys = (SigningKey(OLD, expires_at=NOW + 0.5),)
    delivery = claimed(old_secrets=keys)
    during = build([delivery], shape_all([delivery], None), NOW, CONFIG)
    signing.verify(OLD, during.body, during.headers, int(NOW))
    after = build([delivery], shape_all([delivery], None), NOW + 1, CONFIG)
    assert len(after.headers["webhook-signature"].split()) == 1


def test_a_batch_is_one_body_under_a_batch_id() -> None:
    """A batching endpoint's deliveries become one JSON array, signed under a batch id."""
    batching = Controls(batching=Batching(max_size=10, max_wait=1.0))
    group = [claimed(n, controls=batching) for n in (1, 2)]
    request = build(group, shape_all(group, None), NOW, CONFIG)
    assert request.msg_id.startswith("batch_")
    assert request.headers[BATCH_SIZE_HEADER] == "2"
    assert [e["id"] for e in orjson.loads(request.body)] == ["msg_1", "msg_2"]
    assert not request.reshaped


def test_a_forwarded_event_keeps_its_provider_headers_and_content_type() -> None:
    """A received event goes out with the headers it came with and its own content type."""
    delivery = claimed(message_headers={"content-type": "application/x-www-form-urlencoded"})
    request = build([delivery], shape_all([delivery], None), NOW, CONFIG)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_reshaped_body_is_recorded_and_credentials_are_masked() -> None:
    """A transformed body is kept with the attempt; the endpoint's credential headers masked."""
    delivery = claimed(
        headers={"authorization": "Bearer s3cret"},
        controls=Controls(transformation={"body": "{wrapped: @}"}),
    )  # fmt: skip
    request = build([delivery], shape_all([delivery], None), NOW, CONFIG)
    assert request.reshaped
    sent = recorded(request, delivery, request.headers)
    assert sent.body == request.body.decode()
    assert sent.headers["authorization"] == MASKED
    assert sent.headers["webhook-id"] == "msg_1"  # hookline's own headers are kept


def test_only_a_batching_endpoint_on_a_batching_channel_shares_requests() -> None:
    """Grouping: a batching endpoint's deliveries share a request up to its size, others not."""
    batching = Controls(batching=Batching(max_size=2, max_wait=1.0))
    group = [claimed(n, controls=batching) for n in (1, 2, 3)] + [claimed(4)]
    assert [len(r) for r in requests(group, lambda d: True)] == [2, 1, 1]
    assert [len(r) for r in requests(group, lambda d: False)] == [1, 1, 1, 1]


# choosing a channel ------------------------------------------------------------------------


class Named:
    """A channel that only says who it is."""

    def __init__(self, name: str, batches: bool) -> None:
        self.name = name
        self.batches = batches

    async def send(self, group: Sequence[ClaimedDelivery], sent_at: float) -> Sent:
        return AttemptResult(200, self.name, {}, 0), None


def test_the_endpoints_kind_chooses_its_channel() -> None:
    """handler: URLs go to the handler channel, web URLs (and anything else) to HTTP."""
    http, handler = Named("http", True), Named("handler", False)
    channels = Channels(http, {"handler": handler})
    assert channels.for_delivery(claimed(url="handler:billing")) is handler
    assert channels.for_delivery(claimed(url="https://example.com/")) is http
    assert channels.for_delivery(claimed(url="no-scheme")) is http
    assert not channels.batches(claimed(url="handler:billing"))
    assert Channels(http).for_delivery(claimed(url="handler:x")) is http


def test_a_destination_goes_to_the_channel_of_its_kind() -> None:
    """A delivery with a destination is carried by the channel registered for its kind."""
    http, broker = Named("http", True), Named("broker", True)
    channels = Channels(http, by_kind={"rabbitMq": broker})
    queued = claimed(destination=Destination("rabbitMq", {"routingKey": "invoices"}))
    assert channels.for_delivery(queued) is broker
    assert channels.for_delivery(claimed()) is http


async def test_a_destination_kind_without_a_channel_fails_its_attempt_unsent() -> None:
    """A kind this worker has no channel for is a failed attempt naming it, not a drop."""
    channels = Channels(Named("http", True))
    queued = claimed(destination=Destination("mqtt", {"topic": "t"}))
    result, sent = await channels.for_delivery(queued).send([queued], NOW)
    assert sent is None
    assert result.error_class is ErrorClass.NO_CHANNEL
    assert "'mqtt'" in result.response_body
    assert not result.succeeded
