"""The egress proxy (HOOKLINE_PROXY_URL): every outbound request through a real forward
proxy on loopback (Debian's tinyproxy, started here), whose log shows what it carried.

Deliveries to https endpoints go through CONNECT (TLS end to end, client certificates
included), http ones as absolute-URI requests; OAuth2 token requests go the same way;
the destination checks still judge the real destination before anything reaches the proxy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hookline.delivery.channels import HttpChannel
from hookline.delivery.pyreqwest_transport import PyreqwestTransport
from hookline.delivery.request import RequestConfig
from hookline.domain.egress import EgressProxy, parse_proxy_url
from hookline.domain.endpoint_auth import ClientTls, EndpointAuth, OAuth2ClientCredentials
from hookline.domain.outcome import ErrorClass
from hookline.domain.ssrf import DestinationPolicy
from hookline.storage.base import ClaimedDelivery

from support.certs import Authority, server_context
from support.oauth2 import TokenServer
from support.receiver import Receiver

LOOPBACK = DestinationPolicy.from_strings(["127.0.0.0/8"])
PROXY_USER, PROXY_PASSWORD = "egress", "proxy-pass-word"


@dataclass(frozen=True)
class Proxy:
    """A running tinyproxy: its settings' value, and its log."""

    setting: EgressProxy
    log: Path

    def lines(self) -> list[str]:
        """The log lines about requests it carried."""
        return [line for line in self.log.read_text().splitlines() if "Request (" in line]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    """tinyproxy on loopback, asking for credentials (skipped without it, failed in CI)."""
    program = shutil.which("tinyproxy")
    if program is None:
        reason = "tinyproxy is missing: apt-get install tinyproxy (scripts/test does, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}. CI runs the egress proxy tests, never skips them.")
        pytest.skip(reason)
    folder = tmp_path / "tinyproxy"
    folder.mkdir()
    folder.chmod(0o777)  # tinyproxy may run as another user when started as root
    port, log = _free_port(), folder / "tinyproxy.log"
    config = folder / "tinyproxy.conf"
    config.write_text(
        f'Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile "{log}"\nLogLevel Connect\n'
        f"MaxClients 50\nAllow 127.0.0.1\nBasicAuth {PROXY_USER} {PROXY_PASSWORD}\n"
    )
    running = subprocess.Popen(
        [program, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or running.poll() is not None:
                    raise AssertionError("tinyproxy did not start") from None
                time.sleep(0.05)
        url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        setting = parse_proxy_url(url)
        assert setting is not None
        yield Proxy(setting, log)
    finally:
        running.terminate()
        running.wait(10)


def delivery(url: str, auth: EndpointAuth | None = None) -> ClaimedDelivery:
    """A claimed delivery to ``url``."""
    return ClaimedDelivery(
        id="dlv_1", msg_id="msg_1", endpoint_id="ep_1", app_id="app_1", attempts=0,
        manual=False, event_type="invoice.paid", payload=b"{}", url=url,
        endpoint_disabled=False, headers={}, secret="whsec_" + "A" * 43 + "=",
        old_secrets=(), retry_schedule=None, failing_since=None, auth=auth,
    )  # fmt: skip


async def test_https_and_mutual_tls_go_through_connect(proxy: Proxy, tmp_path: Path) -> None:
    """An https delivery, with a client certificate, is one CONNECT through the proxy."""
    server_ca, client_ca = Authority("server CA"), Authority("client CA")
    context = server_context(server_ca.issue("receiver", server=True), client_ca, tmp_path)
    receiver = Receiver(ssl_context=context).start()
    client = client_ca.issue("hookline", server=False)
    tls = ClientTls(client.certificate, client.key, server_ca.certificate)
    transport = PyreqwestTransport(policy=LOOPBACK, proxy=proxy.setting)
    try:
        result, _ = await HttpChannel(transport, RequestConfig()).send(
            [delivery(f"{receiver.url}/hook", EndpointAuth(tls=tls))], 0.0
        )
    finally:
        await transport.close()
        receiver.stop()
    assert result.status_code == 200, result.response_body
    assert [line.split("): ", 1)[1] for line in proxy.lines()] == [
        f"CONNECT 127.0.0.1:{receiver.port} HTTP/1.1"
    ]


async def test_http_deliveries_and_token_requests_go_through_the_proxy(proxy: Proxy) -> None:
    """An http delivery and its OAuth2 token request are both carried by the proxy."""
    tokens = TokenServer("client", "secret").start()
    receiver = Receiver().start()
    method = OAuth2ClientCredentials(tokens.url, "client", "secret")
    transport = PyreqwestTransport(policy=LOOPBACK, proxy=proxy.setting)
    try:
        result, _ = await HttpChannel(transport, RequestConfig()).send(
            [delivery(f"{receiver.url}/hook", EndpointAuth(method=method))], 0.0
        )
    finally:
        await transport.close()
        receiver.stop()
        tokens.stop()
    assert result.status_code == 200, result.response_body
    carried = " ".join(proxy.lines())
    assert f"POST http://127.0.0.1:{tokens.port}/oauth/token" in carried
    assert f"POST http://127.0.0.1:{receiver.port}/hook" in carried
    assert PROXY_PASSWORD not in proxy.log.read_text()


async def test_the_destination_checks_still_judge_the_real_destination(proxy: Proxy) -> None:
    """Loopback destinations, by address or by name, are refused before reaching the proxy."""
    receiver = Receiver().start()
    transport = PyreqwestTransport(policy=DestinationPolicy(), proxy=proxy.setting)
    try:
        by_address = await transport.send(f"{receiver.url}/hook", b"{}", {})
        by_name = await transport.send(f"http://localhost:{receiver.port}/hook", b"{}", {})
    finally:
        await transport.close()
        receiver.stop()
    assert by_address.error_class is ErrorClass.BLOCKED
    assert by_name.error_class is ErrorClass.BLOCKED
    assert proxy.lines() == []
    assert receiver.snapshot() == []


async def test_wrong_proxy_credentials_fail_the_attempt(proxy: Proxy) -> None:
    """A proxy that refuses our credentials (407) is a failed attempt; nothing arrives."""
    receiver = Receiver().start()
    wrong = EgressProxy(proxy.setting.url, PROXY_USER, "not-the-password")
    transport = PyreqwestTransport(policy=LOOPBACK, proxy=wrong)
    try:
        result = await transport.send(f"{receiver.url}/hook", b"{}", {})
    finally:
        await transport.close()
        receiver.stop()
    # tinyproxy answers 407 and closes mid-body: reqwest reports the read, not the status.
    assert result.status_code in {0, 407}
    assert result.error_class is not None
    assert receiver.snapshot() == []
