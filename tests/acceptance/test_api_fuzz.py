"""schemathesis against the server's own OpenAPI document: no 5xx, answers as documented.

Bounded and repeatable: a fixed seed and a few generated requests per operation,
against a real ``hookline serve`` on SQLite, with the admin token. A 4xx is fine
when it is documented and shaped as documented; a 5xx, an undocumented status,
or a body that does not match its schema fails the run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.server import ADMIN_TOKEN, ServerFactory

CHECKS = ",".join(
    [
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_schema_conformance",
    ]
)  # fmt: skip


def test_no_server_errors_and_answers_match_the_schema(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(api_rate_limit="0")  # the fuzzer is one fast client on purpose
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {ADMIN_TOKEN}", "--checks", CHECKS,
        "--max-examples", "8", "--seed", "1", "--workers", "1", "--generation-deterministic",
        "--report-dir", str(tmp_path), "--no-color",
    ]  # fmt: skip
    # Run in the test's directory: schemathesis keeps a cache where it runs.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    # The failures come first in the report; the summary last.
    assert done.returncode == 0, done.stdout[:12000] + done.stderr[-2000:]
