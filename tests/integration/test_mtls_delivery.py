"""Mutual TLS toward endpoints, against a real TLS server on 127.0.0.1 that requires a
client certificate (certificates made here with ``cryptography``), over the default
transport (pyreqwest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hookline.delivery.channels import HttpChannel
from hookline.delivery.pyreqwest_transport import PyreqwestTransport
from hookline.delivery.request import RequestConfig
from hookline.delivery.transport import AiohttpTransport
from hookline.domain.endpoint_auth import BearerAuth, ClientTls, EndpointAuth
from hookline.domain.outcome import ErrorClass
from hookline.domain.ssrf import DestinationPolicy
from hookline.storage.base import ClaimedDelivery

from support.certs import Authority, Issued, server_context
from support.receiver import Receiver

LOOPBACK = DestinationPolicy.from_strings(["127.0.0.0/8"])


@pytest.fixture(scope="module")
def authorities() -> tuple[Authority, Authority, Authority]:
    """The server's CA, the CA of the clients the server trusts, and a stranger CA."""
    return Authority("server CA"), Authority("client CA"), Authority("stranger CA")


@pytest.fixture
def tls_receiver(
    authorities: tuple[Authority, Authority, Authority], tmp_path: Path
) -> Iterator[Receiver]:
    """An https receiver that requires a client certificate of the client CA."""
    server_ca, client_ca, _ = authorities
    context = server_context(server_ca.issue("receiver", server=True), client_ca, tmp_path)
    receiver = Receiver(ssl_context=context).start()
    yield receiver
    receiver.stop()


def delivery(url: str, tls: ClientTls | None, n: int = 0) -> ClaimedDelivery:
    """A claimed delivery to ``url`` whose endpoint has the TLS settings ``tls``."""
    return ClaimedDelivery(
        id=f"dlv_{n}", msg_id=f"msg_{n}", endpoint_id="ep_1", app_id="app_1", attempts=0,
        manual=False, event_type="invoice.paid", payload=b'{"n": %d}' % n, url=url,
        endpoint_disabled=False, headers={}, secret="whsec_" + "A" * 43 + "=",
        old_secrets=(), retry_schedule=None, failing_since=None,
        auth=EndpointAuth(method=BearerAuth("t"), tls=tls),
    )  # fmt: skip


def tls_of(client: Issued | None, ca: Authority | None) -> ClientTls:
    return ClientTls(
        certificate=client.certificate if client else None, key=client.key if client else None,
        ca_bundle=ca.certificate if ca else None,
    )  # fmt: skip


async def test_the_right_client_certificate_is_delivered_and_others_fail(
    authorities: tuple[Authority, Authority, Authority], tls_receiver: Receiver
) -> None:
    """The client CA's certificate gets through; none, or a stranger's, fail as tls."""
    server_ca, client_ca, stranger_ca = authorities
    good = client_ca.issue("hookline", server=False)
    wrong = stranger_ca.issue("hookline", server=False)
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        results = {
            name: await channel.send([delivery(tls_receiver.url, tls, n)], 0.0)
            for n, (name, tls) in enumerate({
                "good": tls_of(good, server_ca),
                "none": tls_of(None, server_ca),
                "wrong": tls_of(wrong, server_ca),
                "good again": tls_of(good, server_ca),
            }.items())
        }  # fmt: skip
    finally:
        await transport.close()
    assert results["good"][0].status_code == 200
    assert results["good again"][0].status_code == 200
    for name in ("none", "wrong"):
        result, _ = results[name]
        assert result.status_code == 0, name
        assert result.error_class is ErrorClass.TLS, (name, result.response_body)
        assert "client certificate" in result.response_body, result.response_body
    assert "did not accept the client certificate" in results["wrong"][0].response_body
    assert "none set" in results["none"][0].response_body
    assert len(tls_receiver.snapshot()) == 2
    sent = results["good"][1]
    assert sent is not None
    assert sent.headers["authorization"] == "<masked>"


async def test_https_is_verified_by_default(
    authorities: tuple[Authority, Authority, Authority], tls_receiver: Receiver
) -> None:
    """Without the server's CA in the bundle its certificate is refused, saying why."""
    _, client_ca, _ = authorities
    transport = PyreqwestTransport(policy=LOOPBACK)
    channel = HttpChannel(transport, RequestConfig())
    try:
        result, _ = await channel.send(
            [delivery(tls_receiver.url, tls_of(client_ca.issue("h", server=False), None))], 0.0
        )
    finally:
        await transport.close()
    assert result.error_class is ErrorClass.TLS
    assert "unknownissuer" in result.response_body.lower().replace(" ", ""), result.response_body
    assert tls_receiver.snapshot() == []


async def test_the_aiohttp_transport_refuses_client_identities(
    authorities: tuple[Authority, Authority, Authority], tls_receiver: Receiver
) -> None:
    """aiohttp here presents no client certificate: the attempt fails saying so."""
    server_ca, client_ca, _ = authorities
    transport = AiohttpTransport(policy=LOOPBACK)
    try:
        tls = tls_of(client_ca.issue("h", server=False), server_ca)
        result = await transport.send(tls_receiver.url, b"{}", {}, tls)
    finally:
        await transport.close()
    assert result.error_class is ErrorClass.TLS
    assert "HOOKLINE_HTTP_CLIENT=pyreqwest" in result.response_body
