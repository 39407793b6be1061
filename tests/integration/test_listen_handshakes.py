"""``hookline listen`` answers both endpoint verification handshakes, over real HTTP.

The listener runs on 127.0.0.1; its answers are judged by the official standardwebhooks
package (the challenge) and by hookline's own check of the CloudEvents handshake.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from rich.console import Console
from standardwebhooks.webhooks import Webhook

from hookline.console._listen import Listener, ListenOptions
from hookline.domain import signing, verification

SECRET = "whsec_" + base64.b64encode(b"the secret hookline listen holds").decode()


async def _listening(secret: str | None) -> tuple[web.AppRunner, str, io.StringIO]:
    shown = io.StringIO()
    listener = Listener(ListenOptions(port=0, secret=secret), Console(file=shown, width=200))
    runner = web.AppRunner(listener.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hooks", shown


@pytest.fixture
async def listening() -> AsyncIterator[tuple[str, io.StringIO]]:
    """A listener with ``--secret``: its URL and what it shows."""
    runner, url, shown = await _listening(SECRET)
    yield url, shown
    await runner.cleanup()


def _signed_challenge(challenge: str, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = verification.challenge_body(challenge)
    headers = signing.headers([secret], "msg_challenge", int(time.time()), body)
    return body, {**headers, verification.CHALLENGE_HEADER: challenge}


async def test_a_signed_challenge_gets_the_standard_answer(
    listening: tuple[str, io.StringIO],
) -> None:
    """The answer's header is the one standardwebhooks verifies; the request is not forwarded."""
    url, shown = listening
    body, headers = _signed_challenge("challenge-0123")
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, content=body, headers=headers)
    assert answer.status_code == 200
    Webhook(SECRET).verify_endpoint_verification_response(
        "challenge-0123", answer.headers[verification.CHALLENGE_RESPONSE_HEADER]
    )
    assert (
        verification.check_challenge_answer(
            [SECRET], "challenge-0123", answer.status_code, dict(answer.headers)
        )
        is None
    )
    assert "answered the verification challenge" in shown.getvalue()


async def test_a_forged_challenge_is_refused(listening: tuple[str, io.StringIO]) -> None:
    """A challenge signed with another secret gets a 401 and no challenge response."""
    url, _ = listening
    other = "whsec_" + base64.b64encode(b"somebody else's secret, not ours").decode()
    body, headers = _signed_challenge("c", other)
    async with httpx.AsyncClient() as client:
        answer = await client.post(url, content=body, headers=headers)
    assert answer.status_code == 401
    assert verification.CHALLENGE_RESPONSE_HEADER not in answer.headers


async def test_without_a_secret_a_challenge_cannot_be_answered() -> None:
    """Listening without --secret, a challenge is a 400 saying what is missing."""
    runner, url, _ = await _listening(None)
    try:
        body, headers = _signed_challenge("c")
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content=body, headers=headers)
    finally:
        await runner.cleanup()
    assert answer.status_code == 400
    assert "--secret" in answer.text


async def test_the_cloudevents_handshake_is_answered(listening: tuple[str, io.StringIO]) -> None:
    """OPTIONS with WebHook-Request-Origin is allowed for that origin at the rate asked."""
    url, shown = listening
    asked = verification.handshake_request("hookline.example.com", rate=120)
    async with httpx.AsyncClient() as client:
        answer = await client.options(url, headers=asked)
        plain = await client.options(url)
    judged = verification.check_handshake_answer(
        "hookline.example.com", answer.status_code, dict(answer.headers)
    )
    assert (judged.allowed, judged.allowed_rate) == (True, 120)
    assert "CloudEvents handshake: allowed hookline.example.com" in shown.getvalue()
    assert plain.status_code == 401  # an OPTIONS that is no handshake is an unsigned request
