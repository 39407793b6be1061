"""``/metrics`` on a real server: counters move with real deliveries, the queue is read live."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.metrics import scrape, value
from support.polling import wait_until
from support.receiver import Answer, Receiver
from support.server import HooklineProcess, ServerFactory


def test_metrics_count_what_happened(start_server: ServerFactory) -> None:
    failing = Receiver(lambda request, count: Answer(status=503)).start()
    healthy = Receiver().start()
    try:
        server = start_server(retry_schedule="60s", retry_jitter="0")
        with server.client() as api:
            app = api.post("/api/v1/app", json={"name": "Acme"}).json()
            for receiver in (healthy, failing):
                api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": f"{receiver.url}/h"})
            for n in range(3):
                api.post(
                    f"/api/v1/app/{app['id']}/msg", json={"eventType": "a.b", "payload": {"n": n}}
                )
        healthy.wait_for(3)
        failing.wait_for(3)

        def settled() -> dict[Any, float] | None:
            samples = scrape(server)
            done = value(samples, "hookline_attempts_total", outcome="succeeded",
                         status_class="2xx", kind="http")  # fmt: skip
            retried = value(samples, "hookline_attempts_total", outcome="retry",
                            status_class="5xx", kind="http")  # fmt: skip
            return samples if (done, retried) == (3, 3) else None

        samples = wait_until(settled, what="six recorded attempts")
        assert value(samples, "hookline_messages_published_total", origin="api") == 3
        assert value(samples, "hookline_attempt_duration_seconds_count", kind="http") == 6
        # The three retries wait 60 s: scheduled, not due, not leased.
        assert value(samples, "hookline_queue_deliveries", state="scheduled") == 3
        assert value(samples, "hookline_queue_deliveries", state="due") == 0
        assert value(samples, "hookline_queue_oldest_due_age_seconds") == 0
        assert value(samples, "hookline_endpoints_disabled") == 0
        assert not any("ep_" in str(labels) for _, labels in samples)  # no per-endpoint series
    finally:
        failing.stop()
        healthy.stop()


def test_metrics_need_an_admin_token(server: HooklineProcess) -> None:
    with server.client(token=None) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        portal = api.post(f"/api/v1/auth/app-portal-access/{app['id']}", json={}).json()
    with server.client(portal["token"]) as customer:
        assert customer.get("/metrics").status_code == 403


def test_metrics_can_be_public_on_purpose(start_server: ServerFactory) -> None:
    server = start_server(metrics_public="true")
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        answer = anonymous.get("/metrics")
    assert answer.status_code == 200
    assert "hookline_queue_deliveries" in answer.text


def test_a_worker_process_serves_its_own_counters(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """``hookline worker`` with HOOKLINE_METRICS_PORT: its attempts are counted there."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api_server = start_server(command="api")
    start_server(command="worker", metrics_port=str(port))
    with api_server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": receiver.url})
        api.post(f"/api/v1/app/{app['id']}/msg", json={"eventType": "e", "payload": {}})
    receiver.wait_for(1)
    worker_metrics = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=api.headers)

    def counted() -> dict[Any, float] | None:
        answer = worker_metrics.get("/metrics")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text)
            for s in family.samples
        }
        ok = value(
            samples, "hookline_attempts_total", outcome="succeeded", status_class="2xx", kind="http"
        )
        return samples if ok == 1 else None

    samples = wait_until(counted, what="the worker's attempt counter")
    assert value(samples, "hookline_queue_deliveries", state="due") == 0
    assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 401  # token needed
    worker_metrics.close()
