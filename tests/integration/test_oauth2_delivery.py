"""OAuth2 client credentials toward endpoints, against a real token endpoint and receiver.

The worker's HTTP channel over the default transport (pyreqwest), a token server
(``support.oauth2``) that checks the client and issues expiring tokens, and a receiver
that accepts only tokens that server issued and still holds valid.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from hookline.delivery.channels import HttpChannel
from hookline.delivery.pyreqwest_transport import PyreqwestTransport
from hookline.delivery.request import RequestConfig
from hookline.domain.endpoint_auth import EndpointAuth, OAuth2ClientCredentials
from hookline.domain.outcome import ErrorClass
from hookline.domain.ssrf import DestinationPolicy
from hookline.storage.base import ClaimedDelivery

from support.oauth2 import TokenServer
from support.receiver import Answer, Received, Receiver

CLIENT_ID = "hookline-client"
CLIENT_SECRET = "client-secret-of-hookline"
LOOPBACK = DestinationPolicy.from_strings(["127.0.0.0/8"])


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    """A running token endpoint for one client."""
    server = TokenServer(CLIENT_ID, CLIENT_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def protected(token_server: TokenServer) -> Iterator[Receiver]:
    """A receiver that answers 401 to any request without a valid token of the server."""

    def behaviour(request: Received, count: int) -> Answer:
        if token_server.valid(request.headers.get("Authorization")):
            return Answer()
        return Answer(status=401, body="invalid token")

    receiver = Receiver(behaviour).start()
    yield receiver
    receiver.stop()


def delivery(url: str, token_url: str, n: int = 0, **credentials: str) -> ClaimedDelivery:
    """A claimed delivery to ``url`` whose endpoint authenticates with OAuth2."""
    given = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **credentials}
    method = OAuth2ClientCredentials(token_url=token_url, **given)  # type: ignore[arg-type]
    return ClaimedDelivery(
        id=f"dlv_{n}", msg_id=f"msg_{n}", endpoint_id="ep_1", app_id="app_1", attempts=0,
        manual=False, event_type="invoice.paid", payload=b'{"n": %d}' % n, url=url,
        endpoint_disabled=False, headers={}, secret="whsec_" + "A" * 43 + "=",
        old_secrets=(), retry_schedule=None, failing_since=None,
        auth=EndpointAuth(method=method),
    )  # fmt: skip


async def test_concurrent_requests_share_one_token(
    token_server: TokenServer, protected: Receiver
) -> None:
    """Twenty requests at once fetch one token (single flight) and all get through."""
    token_server.delay = 0.2  # the fetch is in flight while every request asks for it
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        sends = [
            channel.send([delivery(protected.url, token_server.url, n, scope="hooks")], 0.0)
            for n in range(20)
        ]
        results = await asyncio.gather(*sends)
    finally:
        await transport.close()
    assert [r.status_code for r, _ in results] == [200] * 20
    assert token_server.granted == 1
    assert channel.tokens.fetches == 1
    assert token_server.requests[0].scope == "hooks"
    assert token_server.requests[0].client_auth == "basic"
    for _, sent in results:
        assert sent is not None
        assert sent.headers["authorization"] == "<masked>"
    assert len({r.headers["Authorization"] for r in protected.snapshot()}) == 1


async def test_a_token_is_replaced_when_it_nears_expiry(
    token_server: TokenServer, protected: Receiver
) -> None:
    """A token that lives one second is reused within it and fetched again after it."""
    token_server.expires_in = 1
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        first, _ = await channel.send([delivery(protected.url, token_server.url, 1)], 0.0)
        again, _ = await channel.send([delivery(protected.url, token_server.url, 2)], 0.0)
        assert token_server.granted == 1  # still fresh: reused
        await asyncio.sleep(1.0)
        later, _ = await channel.send([delivery(protected.url, token_server.url, 3)], 0.0)
    finally:
        await transport.close()
    assert token_server.granted == 2  # refreshed before use, not after a 401
    assert [first.status_code, again.status_code, later.status_code] == [200, 200, 200]
    assert len(protected.snapshot()) == 3
    tokens = [r.headers["Authorization"] for r in protected.snapshot()]
    assert tokens[0] == tokens[1] != tokens[2]


async def test_a_401_refreshes_the_token_once(
    token_server: TokenServer, protected: Receiver
) -> None:
    """A revoked token answered by 401 is refreshed once for all the requests that got it."""
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        ok, _ = await channel.send([delivery(protected.url, token_server.url, 0)], 0.0)
        assert ok.status_code == 200
        token_server.revoke_all()
        sends = [channel.send([delivery(protected.url, token_server.url, n)], 0.0)
                 for n in range(1, 6)]  # fmt: skip
        results = await asyncio.gather(*sends)
    finally:
        await transport.close()
    assert [r.status_code for r, _ in results] == [200] * 5
    assert token_server.granted == 2  # the first token, and one refresh


async def test_a_refused_client_is_a_token_failure_and_sends_nothing(
    token_server: TokenServer, protected: Receiver
) -> None:
    """A wrong client secret fails the attempt as token_error, saying why; no POST is made."""
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        wrong = delivery(protected.url, token_server.url, client_secret="not-the-secret-0042")
        result, sent = await channel.send([wrong], 0.0)
        form = delivery(protected.url, token_server.url, client_auth="form")
        by_form, _ = await channel.send([form], 0.0)
    finally:
        await transport.close()
    assert result.error_class is ErrorClass.TOKEN
    assert "invalid_client" in result.response_body
    assert "not-the-secret-0042" not in result.response_body
    assert sent is None
    assert by_form.status_code == 200
    assert [r.client_auth for r in token_server.requests] == ["basic", "form"]
    assert len(protected.snapshot()) == 1  # only the request that had a token


async def test_token_urls_pass_the_destination_checks(
    token_server: TokenServer, protected: Receiver
) -> None:
    """A loopback token URL is refused unless the network is allowed; a dead one says so."""
    strict = PyreqwestTransport(policy=DestinationPolicy())
    try:
        result, _ = await HttpChannel(strict, RequestConfig()).send(
            [delivery("https://example.com/hook", token_server.url)], 0.0
        )
    finally:
        await strict.close()
    assert result.error_class is ErrorClass.TOKEN
    assert "refused" in result.response_body
    assert token_server.requests == []

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}/token"
    transport = PyreqwestTransport(policy=LOOPBACK)
    try:
        result, _ = await HttpChannel(transport, RequestConfig()).send(
            [delivery(protected.url, dead)], 0.0
        )
    finally:
        await transport.close()
    assert result.error_class is ErrorClass.TOKEN
    assert "could not be reached (connection_refused)" in result.response_body
    assert protected.snapshot() == []


async def test_changed_credentials_get_a_new_token(
    token_server: TokenServer, protected: Receiver
) -> None:
    """A token is cached per endpoint and credentials: a new scope fetches a new one."""
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        one = delivery(protected.url, token_server.url, scope="a")
        await channel.send([one], 0.0)
        await channel.send([one], 0.0)
        await channel.send([delivery(protected.url, token_server.url, scope="b")], 0.0)
        await channel.send([replace(one, endpoint_id="ep_2")], 0.0)
    finally:
        await transport.close()
    assert [r.scope for r in token_server.requests] == ["a", "b", "a"]
