"""Tests for the in-app helpers (FastAPI, Flask, Django) and the in-memory deduplicator."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import threading
from typing import Any
from urllib.parse import urlencode

import django
import flask
import httpx
import pytest
import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from fastapi import Depends, FastAPI, HTTPException, Request
from twilio.request_validator import RequestValidator

from hookline import MemoryDeduplicator, VerifiedEvent, build_verifier
from hookline.integrations import django as django_helper
from hookline.integrations import fastapi as fastapi_helper
from hookline.integrations import flask as flask_helper

SECRET = "It's a Secret to Everybody"
BODY = b'{"action": "opened", "number": 1}'
NOW = 1_700_000_000.0
GITHUB = build_verifier("github", {}, [SECRET])


def github_headers(
    delivery: str = "d-1", body: bytes = BODY, secret: str = SECRET
) -> dict[str, str]:
    """Headers GitHub would send for ``body`` (its documented HMAC-SHA256 scheme)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "pull_request",
        "Content-Type": "application/json",
    }


EXPECTED = VerifiedEvent("d-1", "pull_request")
REJECTED = {"detail": "invalid signature"}


# ---------------------------------------------------------------------------
# FastAPI


def fastapi_client(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client calling ``app`` in process (ASGI), no sockets."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def fastapi_app(seen: list[VerifiedEvent], *, fail_first: bool = False) -> FastAPI:
    """An app with one GitHub webhook route that records the events it is handed."""
    app = FastAPI()
    github_event = fastapi_helper.verified_webhook(GITHUB, deduplicator=MemoryDeduplicator())

    @app.post("/hooks/github")
    # A default rather than Annotated: with postponed annotations FastAPI resolves names
    # in the module's globals, and the dependency is local to this app.
    async def github_webhook(
        request: Request,
        event: VerifiedEvent = Depends(github_event),  # noqa: B008 - see above
    ) -> dict[str, Any]:
        seen.append(event)
        if fail_first and len(seen) == 1:
            raise HTTPException(503, "database down")
        return {"action": (await request.json())["action"]}

    return app


async def test_fastapi_hands_the_view_the_verified_event() -> None:
    """A valid webhook reaches the view with its event, and the body is still readable."""
    seen: list[VerifiedEvent] = []
    async with fastapi_client(fastapi_app(seen)) as client:
        response = await client.post("/hooks/github", content=BODY, headers=github_headers())
    assert response.status_code == 200
    assert response.json() == {"action": "opened"}
    assert seen == [EXPECTED]


async def test_fastapi_refuses_a_bad_signature_without_calling_the_view(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bad signature gets 401 with the generic body; the view never runs; the log says why."""
    seen: list[VerifiedEvent] = []
    with caplog.at_level(logging.WARNING, "hookline.integrations"):
        async with fastapi_client(fastapi_app(seen)) as client:
            response = await client.post(
                "/hooks/github?token=abc", content=BODY, headers=github_headers(secret="wrong")
            )
    assert response.status_code == 401
    assert response.json() == REJECTED
    assert seen == []
    [record] = caplog.records
    assert record.reason == "no signature matched"  # type: ignore[attr-defined]
    assert record.path == "/hooks/github"  # type: ignore[attr-defined]
    assert SECRET not in caplog.text
    assert "wrong" not in caplog.text


async def test_fastapi_answers_a_duplicate_without_calling_the_view_again() -> None:
    """The same delivery id twice: both answered 2xx, the view called once."""
    seen: list[VerifiedEvent] = []
    async with fastapi_client(fastapi_app(seen)) as client:
        first = await client.post("/hooks/github", content=BODY, headers=github_headers())
        second = await client.post("/hooks/github", content=BODY, headers=github_headers())
        other = await client.post("/hooks/github", content=BODY, headers=github_headers("d-2"))
    assert (first.status_code, second.status_code, other.status_code) == (200, 200, 200)
    assert second.json() == {"detail": "duplicate"}
    assert [event.event_id for event in seen] == ["d-1", "d-2"]


async def test_fastapi_a_failed_view_lets_the_retry_through() -> None:
    """When the view fails, the id is forgotten: the provider's retry is handled."""
    seen: list[VerifiedEvent] = []
    async with fastapi_client(fastapi_app(seen, fail_first=True)) as client:
        failed = await client.post("/hooks/github", content=BODY, headers=github_headers())
        retried = await client.post("/hooks/github", content=BODY, headers=github_headers())
    assert (failed.status_code, retried.status_code) == (503, 200)
    assert len(seen) == 2


async def test_fastapi_uses_the_injected_clock_for_the_replay_window() -> None:
    """A Stripe webhook signed at NOW verifies with the clock at NOW, not at real time."""
    body = b'{"id": "evt_9", "type": "charge.succeeded"}'
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), "whsec_s", timestamp=int(NOW)
    )
    app = FastAPI()
    stripe_event = fastapi_helper.verified_webhook(
        build_verifier("stripe", {}, ["whsec_s"]), clock=lambda: NOW
    )

    @app.post("/stripe")
    async def stripe_webhook(
        event: VerifiedEvent = Depends(stripe_event),  # noqa: B008 - local dependency, as above
    ) -> dict[str, str | None]:
        return {"id": event.event_id, "type": event.event_type}

    async with fastapi_client(app) as client:
        response = await client.post("/stripe", content=body, headers={"Stripe-Signature": header})
    assert response.json() == {"id": "evt_9", "type": "charge.succeeded"}


# ---------------------------------------------------------------------------
# Flask


def flask_app(seen: list[VerifiedEvent], *, status: int = 200) -> flask.Flask:
    """An app with a GitHub route and a Twilio route that record their events."""
    app = flask.Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/hooks/github")
    @flask_helper.verify_webhook(GITHUB, deduplicator=MemoryDeduplicator())
    def github_webhook() -> tuple[dict[str, Any], int]:
        seen.append(flask.g.webhook)
        return {"action": flask.request.get_json()["action"]}, status

    @app.post("/hooks/twilio")
    @flask_helper.verify_webhook(build_verifier("twilio", {}, ["twilio-token"]))
    def twilio_webhook() -> str:
        seen.append(flask.g.webhook)
        return flask.request.form["Body"]

    return app


def test_flask_hands_the_view_the_verified_event() -> None:
    """A valid webhook reaches the view with flask.g.webhook; the body is still readable."""
    seen: list[VerifiedEvent] = []
    response = (
        flask_app(seen).test_client().post("/hooks/github", data=BODY, headers=github_headers())
    )
    assert response.status_code == 200
    assert response.get_json() == {"action": "opened"}
    assert seen == [EXPECTED]


def test_flask_refuses_a_bad_signature_without_calling_the_view() -> None:
    """A tampered body gets 401 with the generic body and the view never runs."""
    seen: list[VerifiedEvent] = []
    response = (
        flask_app(seen)
        .test_client()
        .post("/hooks/github", data=BODY + b" ", headers=github_headers())
    )
    assert response.status_code == 401
    assert response.get_json() == REJECTED
    assert seen == []


def test_flask_answers_a_duplicate_without_calling_the_view_again() -> None:
    """The same delivery id twice: both answered 2xx, the view called once."""
    seen: list[VerifiedEvent] = []
    client = flask_app(seen).test_client()
    statuses = [
        client.post("/hooks/github", data=BODY, headers=github_headers()).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    assert seen == [EXPECTED]


def test_flask_a_5xx_from_the_view_lets_the_retry_through() -> None:
    """A view answering 500 does not mark the id as handled."""
    seen: list[VerifiedEvent] = []
    client = flask_app(seen, status=500).test_client()
    for _ in range(2):
        client.post("/hooks/github", data=BODY, headers=github_headers())
    assert len(seen) == 2


def test_flask_twilio_form_webhook_sees_the_called_url_and_its_form() -> None:
    """Twilio's signature over URL and form verifies through Flask; request.form still works."""
    params = {"From": "+15551234567", "Body": "Hello + goodbye", "MessageSid": "SM1"}
    url = "http://localhost/hooks/twilio?account=7"
    signature = RequestValidator("twilio-token").compute_signature(url, params)
    seen: list[VerifiedEvent] = []
    response = (
        flask_app(seen)
        .test_client()
        .post(
            "/hooks/twilio?account=7",
            data=urlencode(params),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                "I-Twilio-Idempotency-Token": "tok-1",
            },
        )
    )
    assert response.status_code == 200
    assert response.text == "Hello + goodbye"
    assert seen == [VerifiedEvent("tok-1")]


# ---------------------------------------------------------------------------
# Django


@pytest.fixture(scope="module")
def django_settings() -> None:
    """The least Django needs to build requests and responses."""
    if not settings.configured:
        settings.configure(ALLOWED_HOSTS=["testserver"], USE_TZ=True)
        django.setup()


@pytest.mark.usefixtures("django_settings")
class TestDjango:
    """The Django view decorator."""

    def view(self, seen: list[VerifiedEvent], *, status: int = 204) -> Any:
        """A decorated view that records request.webhook."""

        @django_helper.verify_webhook(GITHUB, deduplicator=MemoryDeduplicator())
        def github_webhook(request: HttpRequest, source: str) -> HttpResponse:
            seen.append(request.webhook)  # type: ignore[attr-defined]
            assert json.loads(request.body)["action"] == "opened"
            assert source == "github"
            return HttpResponse(status=status)

        return github_webhook

    def post(self, body: bytes = BODY, **headers: str) -> HttpRequest:
        """A POST built by Django's RequestFactory."""
        return RequestFactory().post(
            "/hooks/github", data=body, content_type="application/json", headers=headers
        )

    def test_hands_the_view_the_verified_event(self) -> None:
        """A valid webhook reaches the view with request.webhook and its URL kwargs."""
        seen: list[VerifiedEvent] = []
        response = self.view(seen)(self.post(**github_headers()), source="github")
        assert response.status_code == 204
        assert seen == [EXPECTED]

    def test_refuses_a_bad_signature_without_calling_the_view(self) -> None:
        """A missing signature gets 401 with the generic body and the view never runs."""
        seen: list[VerifiedEvent] = []
        headers = github_headers()
        del headers["X-Hub-Signature-256"]
        response = self.view(seen)(self.post(**headers), source="github")
        assert response.status_code == 401
        assert json.loads(response.content) == REJECTED
        assert seen == []

    def test_answers_a_duplicate_without_calling_the_view_again(self) -> None:
        """The same delivery id twice: both answered 2xx, the view called once."""
        seen: list[VerifiedEvent] = []
        view = self.view(seen)
        first = view(self.post(**github_headers()), source="github")
        second = view(self.post(**github_headers()), source="github")
        assert (first.status_code, second.status_code) == (204, 200)
        assert seen == [EXPECTED]

    def test_a_view_that_raises_lets_the_retry_through(self) -> None:
        """An exception in the view forgets the id, so the retry runs the view again."""
        calls: list[VerifiedEvent] = []

        @django_helper.verify_webhook(GITHUB, deduplicator=MemoryDeduplicator())
        def flaky(request: HttpRequest) -> HttpResponse:
            calls.append(request.webhook)  # type: ignore[attr-defined]
            if len(calls) == 1:
                raise RuntimeError("database down")
            return HttpResponse(status=204)

        with pytest.raises(RuntimeError):
            flaky(self.post(**github_headers()))
        assert flaky(self.post(**github_headers())).status_code == 204
        assert len(calls) == 2

    def test_the_view_is_csrf_exempt(self) -> None:
        """Providers send no CSRF token, so the decorated view is exempt."""
        assert self.view([]).csrf_exempt is True


# ---------------------------------------------------------------------------
# The deduplicator, and hookline's own imports


def test_memory_deduplicator_lets_an_id_through_once_per_ttl() -> None:
    """An id is new once, a duplicate until its TTL ends, then new again."""
    dedup = MemoryDeduplicator(ttl=60)
    assert dedup.first_time("a", NOW)
    assert not dedup.first_time("a", NOW + 59)
    assert dedup.first_time("a", NOW + 60)


def test_memory_deduplicator_drops_the_oldest_when_full() -> None:
    """Past max_entries the oldest id is forgotten first; memory stays bounded."""
    dedup = MemoryDeduplicator(ttl=60, max_entries=2)
    for event_id in ("a", "b", "c"):
        assert dedup.first_time(event_id, NOW)
    assert len(dedup) == 2
    assert not dedup.first_time("c", NOW)
    assert dedup.first_time("a", NOW)


def test_memory_deduplicator_forgets_on_request_and_drops_expired_ids() -> None:
    """forget makes an id new again; expired ids leave memory on the next call."""
    dedup = MemoryDeduplicator(ttl=10)
    dedup.first_time("a", NOW)
    dedup.forget("a")
    dedup.forget("never seen")
    assert dedup.first_time("a", NOW)
    dedup.first_time("b", NOW + 5)
    dedup.first_time("c", NOW + 11)
    assert len(dedup) == 2


def test_memory_deduplicator_is_thread_safe() -> None:
    """Many threads racing on the same ids: each id is new exactly once."""
    dedup = MemoryDeduplicator()
    firsts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        for n in range(500):
            if dedup.first_time(f"id-{n}", NOW):
                with lock:
                    firsts.append(f"id-{n}")

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(firsts) == sorted(f"id-{n}" for n in range(500))


@pytest.mark.parametrize(("ttl", "max_entries"), [(0, 10), (10, 0)])
def test_memory_deduplicator_refuses_empty_bounds(ttl: float, max_entries: int) -> None:
    """A zero TTL or size would deduplicate nothing: refused."""
    with pytest.raises(ValueError, match="positive"):
        MemoryDeduplicator(ttl=ttl, max_entries=max_entries)


def test_importing_hookline_imports_no_web_framework_helper() -> None:
    """``import hookline`` loads neither the integrations nor Flask nor Django."""
    code = (
        "import sys, hookline; "
        "print(sorted(m for m in ('flask', 'django', 'hookline.integrations') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
