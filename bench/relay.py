"""The end-to-end ceiling: a non-durable relay on the same ASGI server and HTTP client.

``python -m bench.relay RECEIVER_URL LANES`` serves, with uvicorn on 127.0.0.1 (a free
port, the same loop and HTTP parser as hookline), an app that takes each publish
(``POST .../msg``, the body an SDK sends), answers 202 at once, and forwards the
message's payload from an in-memory queue to the receiver, signed as hookline signs,
through hookline's own outbound transport (``hookline.runtime.make_transport``: the
default client, settings from the environment) with as many requests in flight as a
hookline worker has. Nothing is stored: a crash loses whatever is queued. It is what
"publish, then deliver" costs with no durability, so hookline's end-to-end rate is
judged against it.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

import orjson
import uvicorn

from hookline.domain import ids, signing
from hookline.runtime import make_transport
from hookline.settings import load_settings

from bench.common import SECRET, die_with_parent, run_loop

_ACCEPTED = b'{"accepted":true}'


class Relay:
    """The ASGI app and its forwarders: publishes in, signed POSTs out."""

    def __init__(self, receiver_url: str, lanes: int) -> None:
        self.receiver_url = receiver_url.rstrip("/")
        self.lanes = lanes
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.received = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Read the publish, queue its payload, answer 202."""
        if scope["type"] != "http":
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        # hookline stores and sends the payload serialised once; so does the relay.
        payload = orjson.dumps(orjson.loads(b"".join(chunks))["payload"])
        self.queue.put_nowait((self.received % self.lanes, payload))
        self.received += 1
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": _ACCEPTED})

    async def forward(self, in_flight: int) -> None:
        """Forward queued payloads forever, ``in_flight`` at a time."""
        settings = load_settings({})
        transport = make_transport(settings)

        async def forwarder() -> None:
            while True:
                lane, body = await self.queue.get()
                msg_id = ids.new_id(ids.MESSAGE, time.time())
                headers = {"content-type": "application/json"}
                headers.update(
                    signing.headers(SECRET, msg_id, int(time.time()), body, svix_headers=True)
                )
                await transport.send(f"{self.receiver_url}/ep/{lane}", body, headers)

        await asyncio.gather(*(forwarder() for _ in range(in_flight)))


async def _serve(receiver_url: str, lanes: int) -> None:
    settings = load_settings({})
    relay = Relay(receiver_url, lanes)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(relay, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    port = sock.getsockname()[1]
    print(f"hookline listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    forwarding = asyncio.ensure_future(relay.forward(settings.worker_concurrency))
    try:
        await server.serve(sockets=[sock])
    finally:
        forwarding.cancel()


def main() -> None:
    """Serve until killed."""
    die_with_parent()
    receiver_url, lanes = sys.argv[1], int(sys.argv[2])
    run_loop(lambda: _serve(receiver_url, lanes))


if __name__ == "__main__":
    main()
