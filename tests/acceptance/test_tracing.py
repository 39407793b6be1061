"""OpenTelemetry traces: one trace from a publish to each of its attempts, and on to the
receiver through the ``traceparent`` header (spans written as JSON lines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.polling import wait_until
from support.receiver import Receiver
from support.server import ServerFactory


def spans_in(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_attempt_joins_its_publish_trace_and_passes_it_on(
    start_server: ServerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    server = start_server(traces=f"file:{spans_file}")
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Acme"}).json()
        api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": receiver.url})
        msg = api.post(
            f"/api/v1/app/{app['id']}/msg", json={"eventType": "e", "payload": {}}
        ).json()
        (request,) = receiver.wait_for(1)
    wanted = {"hookline publish", "hookline attempt"}

    def ours() -> list[dict[str, Any]] | None:
        found = spans_in(spans_file)
        return found if wanted <= {span["name"] for span in found} else None

    spans = wait_until(ours, what="the publish and attempt spans")
    by_name = {span["name"]: span for span in spans if span["name"] in wanted}
    publish, attempt = by_name["hookline publish"], by_name["hookline attempt"]
    assert publish["attributes"]["hookline.msg_id"] == msg["id"]
    assert attempt["context"]["trace_id"] == publish["context"]["trace_id"]
    assert attempt["parent_id"] == publish["context"]["span_id"]
    assert attempt["attributes"]["http.response.status_code"] == 200
    headers = {k.lower(): v for k, v in request.headers.items()}
    _, trace_id, span_id, _ = headers["traceparent"].split("-")
    assert f"0x{trace_id}" == publish["context"]["trace_id"]
    assert f"0x{span_id}" == attempt["context"]["span_id"]
