"""The inbound ceiling: the least an ASGI server can do per webhook (read the body, say 200).

``python -m bench.minimal_asgi [N]`` serves it with uvicorn on 127.0.0.1 (a free
port) with the same loop and HTTP parser as hookline, in N processes sharing the
socket (default 1; compared with ``hookline api --processes N``), and prints the
line hookline prints when it listens, so the benchmark starts both the same way.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import uvicorn

from bench.common import die_with_parent


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole body, answer a small JSON 200: no verification, no storage."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def main() -> None:
    """Serve until killed (the extra processes die with the first)."""
    die_with_parent()
    processes = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    first = True
    for _ in range(processes - 1):
        if os.fork() == 0:
            die_with_parent()
            first = False
            break
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if first:
        print(f"hookline listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
