"""The docs' examples, run for real.

docs/verifying.md: every code block is marked ``<!-- verify:NAME -->`` and run here
against requests signed by hookline's own signer (Python in a subprocess, JavaScript
with node, Go with ``go``, the shell one with bash and openssl); each must accept a
genuine request and refuse a tampered one. The other guides: every ``hookline``
command they show exists with the options they give it. And ``hookline catalogue``
is run as a command on the database of a real server whose event types were made
through its API.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

from hookline.cli import main
from hookline.domain import signing

from support.server import HooklineProcess

DOCS = Path(__file__).parents[2] / "docs"
VERIFYING = DOCS / "verifying.md"
#: The guides whose ``hookline ...`` command lines are checked against the CLI.
GUIDES = (
    "getting-started.md",
    "verifying.md",
    "troubleshooting.md",
    "scaling.md",
    "reliability.md",
    "cli.md",
)

SNIPPET = re.compile(
    r"<!-- verify:(?P<name>[\w-]+) -->\n(?P<fence>`{3,})(?P<lang>\w*)\n(?P<code>.*?)\n(?P=fence)\n",
    re.DOTALL,
)
FENCE_LINE = re.compile(r"^`{3,}", re.MULTILINE)

SECRET = signing.generate_secret()
OLD_SECRET = signing.generate_secret()
OTHER_SECRET = signing.generate_secret()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
# Spaces, a non-ASCII letter and a trailing newline: a verifier that does not use the
# raw bytes (re-serialises, decodes, trims) fails on one of them.
BODY = '{"type": "invoice.paid", "data": {"invoice": "in_42", "amount": 1999, "name": "Zoë"}}\n'


@dataclass(frozen=True)
class Case:
    """A request as a receiver gets it, and whether a correct verifier accepts it."""

    name: str
    headers: dict[str, str]
    body: bytes
    genuine: bool
    #: How far the timestamp is from now: ``hookline verify --tolerance 86400`` accepts it.
    skew: int = 0


def cases() -> list[Case]:
    """Genuine requests (one secret; two during a rotation) and tampered ones."""
    now = int(time.time())
    body = BODY.encode()
    signed = signing.headers(SECRET, MSG_ID, now, body)
    return [
        Case("genuine", signed, body, genuine=True),
        Case("rotation", signing.headers([OLD_SECRET, SECRET], MSG_ID, now, body), body, True),
        Case("changed body", signed, body.replace(b"1999", b"9999"), genuine=False),
        Case("re-serialised", signed, json.dumps(json.loads(body)).encode(), genuine=False),
        Case("trailing newline dropped", signed, body.rstrip(b"\n"), genuine=False),
        Case("other secret", signing.headers(OTHER_SECRET, MSG_ID, now, body), body, False),
        Case("stale", signing.headers(SECRET, MSG_ID, now - 600, body), body, False, -600),
        Case("future", signing.headers(SECRET, MSG_ID, now + 600, body), body, False, 600),
    ]


def snippets() -> dict[str, str]:
    """The marked code blocks of docs/verifying.md, by name."""
    text = VERIFYING.read_text()
    return {m["name"]: m["code"] + "\n" for m in SNIPPET.finditer(text)}


def test_every_code_block_of_verifying_md_is_marked_and_tested() -> None:
    """Every code block in docs/verifying.md is one of the snippets run here."""
    text = VERIFYING.read_text()
    assert len(FENCE_LINE.findall(text)) == 2 * len(SNIPPET.findall(text))
    assert set(snippets()) == {
        "python-hookline", "python-standardwebhooks", "js-crypto", "js-standardwebhooks",
        "go", "shell", "cli",
    }  # fmt: skip


def verdict(done: subprocess.CompletedProcess[str]) -> bool:
    """ACCEPTED or REJECTED from a driver; anything else (a crash) fails the test."""
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert lines, done.stderr
    assert lines[-1].split(":")[0] in ("ACCEPTED", "REJECTED"), done.stdout + done.stderr
    return lines[-1].startswith("ACCEPTED")


def run_driver(argv: list[str], case: Case, cwd: Path) -> bool:
    """Run a verifier driver on ``case`` (secret and headers in the environment, body in a file)."""
    body = cwd / "body"
    body.write_bytes(case.body)
    env = {**os.environ, "WEBHOOK_SECRET": SECRET, "WEBHOOK_HEADERS": json.dumps(case.headers)}
    done = subprocess.run(
        [*argv, str(body)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    return verdict(done)


def check_cases(run: Any, tolerant: bool = False) -> None:
    """Run the verifier on every case; the genuine ones pass, the others do not."""
    for case in cases():
        accepted = run(case)
        expected = case.genuine or (tolerant and case.skew != 0)
        assert accepted == expected, f"{case.name}: accepted={accepted}"


# --- Python ----------------------------------------------------------------------------

PYTHON_DRIVER = """
import json as _json, os as _os, sys as _sys
with open(_sys.argv[1], "rb") as _file:
    _body = _file.read()
_headers = _json.loads(_os.environ["WEBHOOK_HEADERS"])
_ok = verify_webhook(_os.environ["WEBHOOK_SECRET"], _headers, _body)
print("ACCEPTED" if _ok else "REJECTED")
"""


@pytest.mark.parametrize("name", ["python-hookline", "python-standardwebhooks"])
def test_python_snippet_verifies(name: str, tmp_path: Path) -> None:
    """The Python snippet accepts hookline's signatures and refuses tampered requests."""
    script = tmp_path / "verify.py"
    script.write_text(snippets()[name] + PYTHON_DRIVER)
    check_cases(lambda case: run_driver([sys.executable, str(script)], case, tmp_path))


# --- JavaScript ------------------------------------------------------------------------

NODE_DRIVER = """
const _fs = require("node:fs");
const _headers = JSON.parse(process.env.WEBHOOK_HEADERS);
const _ok = verifyWebhook(process.env.WEBHOOK_SECRET, _headers, _fs.readFileSync(process.argv[2]));
console.log(_ok ? "ACCEPTED" : "REJECTED");
"""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed: the JavaScript snippets were not run")
    return found


def run_node(script: Path, case: Case, cwd: Path) -> bool:
    return run_driver([node(), str(script)], case, cwd)


def test_javascript_crypto_snippet_verifies(tmp_path: Path) -> None:
    """The dependency-free Node snippet accepts hookline's signatures, refuses tampering."""
    script = tmp_path / "verify.js"
    script.write_text(snippets()["js-crypto"] + NODE_DRIVER)
    check_cases(lambda case: run_node(script, case, tmp_path))


@pytest.fixture(scope="module")
def npm_standardwebhooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the standardwebhooks npm package installed (skip if npm cannot)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node or npm is not installed: the standardwebhooks npm snippet was not run")
    folder = tmp_path_factory.mktemp("npm")
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder),
             "standardwebhooks@1"],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("npm install standardwebhooks timed out: that snippet was not run")
    if done.returncode != 0:
        pytest.skip(f"npm install standardwebhooks failed, snippet not run: {done.stderr[-300:]}")
    return folder


def test_javascript_standardwebhooks_snippet_verifies(npm_standardwebhooks: Path) -> None:
    """The snippet using the standardwebhooks npm package accepts hookline's signatures."""
    script = npm_standardwebhooks / "verify.js"
    script.write_text(snippets()["js-standardwebhooks"] + NODE_DRIVER)
    check_cases(lambda case: run_node(script, case, npm_standardwebhooks))


# --- Go --------------------------------------------------------------------------------

GO_DRIVER = """package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	var headers map[string]string
	if err := json.Unmarshal([]byte(os.Getenv("WEBHOOK_HEADERS")), &headers); err != nil {
		panic(err)
	}
	header := http.Header{}
	for name, value := range headers {
		header.Set(name, value)
	}
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := Verify(os.Getenv("WEBHOOK_SECRET"), header, body, time.Now()); err != nil {
		fmt.Println("REJECTED:", err)
		return
	}
	fmt.Println("ACCEPTED")
}
"""


def test_go_snippet_verifies(tmp_path: Path) -> None:
    """The Go snippet (standard library only) accepts hookline's signatures, refuses tampering.

    ``scripts/test`` installs Debian's golang-go when it can (as root). Without ``go``
    on the PATH the snippet is not run and the skip says so; under ``CI=true`` that
    is a failure.
    """
    go = shutil.which("go")
    if go is None:
        reason = "go is not installed (apt-get install golang-go): the Go snippet was not run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    # The snippet is a package of its own; built here beside a main that calls it.
    source = re.sub(r"^package \w+", "package main", snippets()["go"], count=1, flags=re.M)
    (tmp_path / "webhooks.go").write_text(source)
    (tmp_path / "main.go").write_text(GO_DRIVER)
    binary = tmp_path / "verifier"
    env = {**os.environ, "GO111MODULE": "off", "GOFLAGS": ""}
    built = subprocess.run(
        [go, "build", "-o", str(binary), "webhooks.go", "main.go"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    check_cases(lambda case: run_driver([str(binary)], case, tmp_path))


# --- the shell -------------------------------------------------------------------------


def run_shell(code: str, case: Case, cwd: Path) -> bool:
    """Run a shell snippet on ``cwd/body.json``; its exit status is its verdict."""
    (cwd / "body.json").write_bytes(case.body)
    env = {
        **os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "WEBHOOK_SECRET": SECRET, "WEBHOOK_ID": case.headers["webhook-id"],
        "WEBHOOK_TIMESTAMP": case.headers["webhook-timestamp"],
        "WEBHOOK_SIGNATURE": case.headers["webhook-signature"],
    }  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode == 0


def test_shell_snippet_verifies(tmp_path: Path) -> None:
    """The bash + openssl snippet accepts hookline's signatures and refuses tampering."""
    for tool in ("bash", "openssl", "base64", "od"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the shell snippet was not run")
    check_cases(lambda case: run_shell(snippets()["shell"], case, tmp_path))


def test_hookline_verify_command_verifies(tmp_path: Path) -> None:
    """The ``hookline verify`` line accepts genuine requests (old ones too, by its tolerance)."""
    check_cases(lambda case: run_shell(snippets()["cli"], case, tmp_path), tolerant=True)


# --- the guides' commands ----------------------------------------------------------------


def code_blocks(text: str) -> Iterator[str]:
    """The shell code blocks of a Markdown text."""
    for match in re.finditer(r"^```(?:sh|bash|shell)\n(.*?)^```", text, re.M | re.S):
        yield match[1]


def command_lines(block: str) -> Iterator[list[str]]:
    """The words of each ``hookline ...`` command in a shell block (continuations joined)."""
    for line in block.replace("\\\n", " ").splitlines():
        if not re.search(r"(^|[\s/])hookline [a-z]", line):
            continue  # not a hookline command (and maybe a line of a quoted JSON document)
        words = shlex.split(line, comments=True)
        for index, word in enumerate(words):
            if Path(word).name == "hookline" and index + 1 < len(words):
                yield words[index + 1 :]


def options_of(command: click.Command) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("guide", GUIDES)
def test_the_guides_hookline_commands_exist_with_their_options(guide: str) -> None:
    """Each ``hookline`` command a guide shows exists and takes every option given to it."""
    seen = 0
    for block in code_blocks((DOCS / guide).read_text()):
        for words in command_lines(block):
            command: click.Command = main
            rest = words
            while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
                found = command.commands.get(rest[0])
                assert found is not None, f"{guide}: no command `hookline {' '.join(words)}`"
                command, rest = found, rest[1:]
            known = options_of(command) | {"--help"}
            for word in rest:
                if re.fullmatch(r"--?[a-zA-Z][\w-]*", word.split("=")[0]):
                    assert word.split("=")[0] in known, f"{guide}: {word} in hookline {words}"
            seen += 1
    assert seen, f"{guide} shows no hookline command"


# --- hookline catalogue ------------------------------------------------------------------

INVOICE_V1 = {
    "type": "object",
    "required": ["invoice", "total"],
    "properties": {"invoice": {"type": "string"}, "total": {"type": "integer", "minimum": 0}},
}
INVOICE_V2 = {
    "type": "object",
    "required": ["invoice", "amount", "currency"],
    "properties": {
        "invoice": {"type": "string", "examples": ["in_42"]},
        "amount": {"type": "integer", "minimum": 1},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "paidAt": {"type": "string", "format": "date-time"},
        "customer": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}},
        },
    },
}


def catalogue(
    server: HooklineProcess, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``hookline catalogue`` on the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "hookline", "catalogue", *args],
        env={**os.environ, "HOOKLINE_DATABASE_URL": server.database_url,
             "HOOKLINE_SECRET_KEY_FILE": str(tmp_path / "hookline.key")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_catalogue_command_renders_the_event_types_made_through_the_api(
    server: HooklineProcess, tmp_path: Path
) -> None:
    """``hookline catalogue`` writes every event type with schemas, transformations, examples."""
    with server.client() as api:
        made = api.post("/api/v1/event-type", json={
            "name": "invoice.paid", "description": "An invoice was paid",
            "schemas": {"1": INVOICE_V1, "2": INVOICE_V2},
            "transformations": {"1": {"body": "{invoice: invoice, total: amount}"}},
            "enforceSchema": True, "featureFlags": ["billing-beta"], "groupName": "billing",
        })  # fmt: skip
        assert made.status_code == 201, made.text
        api.post("/api/v1/event-type", json={"name": "user.deleted", "description": "Gone",
                                             "deprecated": True})  # fmt: skip
        api.post("/api/v1/event-type", json={"name": "old.thing", "description": "Old"})
        assert api.delete("/api/v1/event-type/old.thing").status_code == 204

    out = tmp_path / "catalogue.md"
    done = catalogue(server, tmp_path, "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "2 event type(s) written" in done.stderr
    page = out.read_text()
    assert "| [`invoice.paid`](#invoicepaid) | An invoice was paid | 2 |  |" in page
    assert "| [`user.deleted`](#userdeleted) | Gone | - | deprecated |" in page
    assert "old.thing" not in page
    assert "### `invoice.paid` version 2 (latest)" in page
    assert page.index("version 2 (latest)") < page.index("### `invoice.paid` version 1")
    assert '"paidAt": "2026-01-31T12:00:00Z"' in page
    assert '"email": "jane@example.com"' in page
    assert "Feature flags: `billing-beta`" in page
    assert "- Group: `billing`" in page
    # Version 1's endpoints get the latest example through the version's transformation.
    assert '{\n  "invoice": "in_42",\n  "total": 1\n}' in page
    assert "does not conform" not in page

    done = catalogue(server, tmp_path, "--format", "json", "--include-archived")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    by_name = {entry["name"]: entry for entry in document["eventTypes"]}
    assert list(by_name) == ["invoice.paid", "old.thing", "user.deleted"]
    assert by_name["old.thing"]["archived"] is True
    invoice = by_name["invoice.paid"]
    assert [v["version"] for v in invoice["versions"]] == ["2", "1"]
    assert invoice["versions"][0]["schema"] == INVOICE_V2
    assert invoice["versions"][0]["example"] == {
        "invoice": "in_42", "amount": 1, "currency": "EUR", "paidAt": "2026-01-31T12:00:00Z",
        "customer": {"email": "jane@example.com"},
    }  # fmt: skip
    assert invoice["versions"][1]["delivered"] == {"invoice": "in_42", "total": 1}

    # The example is what the server takes: publishing it passes the enforced schema.
    with server.client() as api:
        api.post("/api/v1/app", json={"name": "Acme", "uid": "acme"})
        published = api.post("/api/v1/app/acme/msg", json={
            "eventType": "invoice.paid", "payload": invoice["versions"][0]["example"],
        })  # fmt: skip
        assert published.status_code == 202, published.text
