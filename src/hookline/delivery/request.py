"""Building one request: which deliveries share it, its body, its signed headers.

Pure pieces (no I/O, the time passed in), used by the channels that sign what they
send: ``requests`` groups claimed deliveries, ``shape_all`` shapes each payload for
its endpoint, ``build`` makes the body (one event, or a batch) and the headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hookline.domain import ids, signing
from hookline.domain.endpoint_auth import AUTHORIZATION
from hookline.domain.outcome import SentRequest, recorded_headers
from hookline.domain.shaping import BATCH_SIZE_HEADER, Shaped, batch_body, shape
from hookline.storage.base import ClaimedDelivery


@dataclass(frozen=True, slots=True)
class RequestConfig:
    """What every request of a worker carries."""

    user_agent: str = "hookline-webhooks/0.1"
    send_svix_headers: bool = True


@dataclass(frozen=True, slots=True)
class Request:
    """One signed request: its body, its headers, and the id it is signed under
    (the message id, or a batch id)."""

    body: bytes
    headers: dict[str, str]
    msg_id: str
    #: A single delivery whose body is not its stored payload (reshaped): its attempt
    #: records the body sent.
    reshaped: bool


def requests(
    claimed: Sequence[ClaimedDelivery], batches: Callable[[ClaimedDelivery], bool]
) -> list[list[ClaimedDelivery]]:
    """Claimed deliveries grouped into requests: a batching endpoint's due deliveries
    (up to its batch size) share one when its channel ``batches``; every other
    delivery has its own."""
    grouped: list[list[ClaimedDelivery]] = []
    open_batch: dict[str, list[ClaimedDelivery]] = {}
    for delivery in claimed:
        batching = delivery.controls.batching
        if batching is None or not batches(delivery):
            grouped.append([delivery])
            continue
        group = open_batch.get(delivery.endpoint_id)
        if group is None or len(group) >= batching.max_size:
            group = open_batch[delivery.endpoint_id] = []
            grouped.append(group)
        group.append(delivery)
    return grouped


def shape_all(group: Sequence[ClaimedDelivery], max_cost: int | None) -> list[Shaped]:
    """Each delivery's payload shaped for its endpoint (raises ``CostExceeded`` past
    ``max_cost``, ``TransformError`` when a transformation fails)."""
    return [
        shape(d.payload, d.version, d.versioning, d.controls.transformation, max_cost)
        for d in group
    ]


def build(
    group: Sequence[ClaimedDelivery], shaped: Sequence[Shaped], now: float, config: RequestConfig
) -> Request:
    """The request of ``group`` at ``now``: one event's shaped body, or a batch body
    under a batch id, and its headers signed with every live secret."""
    first = group[0]
    if len(group) == 1 and first.controls.batching is None:
        body, msg_id, extra = shaped[0].body, first.msg_id, shaped[0].headers
        reshaped = body is not first.payload
    else:
        body = batch_body(
            [(d.msg_id, d.event_type, s.body) for d, s in zip(group, shaped, strict=True)]
        )
        msg_id = ids.new_id(ids.BATCH, now)
        extra = batch_headers(shaped)
        reshaped = False  # a batch's body holds other messages: attempts record headers only
    return Request(body, headers(first, now, msg_id, body, extra, config), msg_id, reshaped)


def headers(
    delivery: ClaimedDelivery, now: float, msg_id: str, body: bytes, extra: dict[str, str],
    config: RequestConfig,
) -> dict[str, str]:  # fmt: skip
    """The headers of a request to the delivery's endpoint, signed at ``now``."""
    # An old secret signs until the exact end of its grace period (not the end of
    # that second: the signed timestamp is whole seconds, the grace period is not).
    secrets = [delivery.secret]
    secrets += [
        k.secret for k in delivery.old_secrets if k.expires_at is None or k.expires_at > now
    ]
    received = delivery.message_headers
    if received:
        # A received (inbound) event is forwarded with the headers it came with,
        # then the endpoint's own; its content type stays what the provider sent.
        made = {
            **received,
            **delivery.headers,
            **extra,
            "content-type": received.get("content-type", "application/json"),
            "user-agent": config.user_agent,
        }
        if body is not delivery.payload:
            made["content-type"] = "application/json"  # reshaped or batched: JSON
    else:
        made = {
            **delivery.headers,
            **extra,
            "content-type": "application/json",
            "user-agent": config.user_agent,
        }
    made.update(
        signing.headers(secrets, msg_id, int(now), body, svix_headers=config.send_svix_headers)
    )
    return made


def batch_headers(shaped: Sequence[Shaped]) -> dict[str, str]:
    """A batch's headers: what its events' shaping added (the first's), and its size."""
    made = dict(shaped[0].headers)
    made[BATCH_SIZE_HEADER] = str(len(shaped))
    return made


def with_authorization(headers: dict[str, str], value: str) -> dict[str, str]:
    """``headers`` with ``Authorization: value``, replacing any spelling of it there."""
    kept = {k: v for k, v in headers.items() if k.lower() != AUTHORIZATION}
    kept[AUTHORIZATION] = value
    return kept


def recorded(request: Request, delivery: ClaimedDelivery, sent: dict[str, str]) -> SentRequest:
    """What the attempt records of a request sent with headers ``sent``: the endpoint's
    and the forwarded credential-like headers masked, and the ``Authorization`` of the
    endpoint's credentials; the body if it was reshaped."""
    custom: tuple[str, ...] = (*delivery.headers, *(delivery.message_headers or ()))
    if delivery.auth is not None and delivery.auth.method is not None:
        custom = (*custom, AUTHORIZATION)
    body = request.body.decode() if request.reshaped else None
    return SentRequest(recorded_headers(sent, custom), body)
