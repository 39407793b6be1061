"""A tiny webhook receiver that verifies hookline's signatures and prints each event.

    .venv/bin/python examples/receiver.py --port 9000 --secret whsec_...

Standard library plus ``hookline.verify``; any Standard Webhooks library works the same.
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hookline


def main() -> None:
    """Serve on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True, help="the endpoint's whsec_ secret")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                hookline.verify(args.secret, body, headers, now=int(time.time()))
            except hookline.SignatureError as error:
                print(f"REJECTED ({error.reason}): {headers.get('webhook-id')}", flush=True)
                self.send_response(401)
                self.end_headers()
                return
            print(f"verified {headers['webhook-id']}: {json.loads(body)}", flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:  # noqa: A002
            pass  # keep the output to one line per webhook

    print(f"receiving on http://127.0.0.1:{args.port}/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
