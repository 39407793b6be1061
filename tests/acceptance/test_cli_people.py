"""The commands for people, run as subprocesses against a real server and receivers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

import hookline

from support.polling import wait_until
from support.receiver import Answer, Receiver
from support.server import ADMIN_TOKEN, HooklineProcess, ServerFactory


def cli_env(server: HooklineProcess | None, token: str = ADMIN_TOKEN) -> dict[str, str]:
    """The environment a person would have: where hookline is and their token."""
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "HOOKLINE_TOKEN"}}
    if server is not None:
        env.update(HOOKLINE_URL=server.url, HOOKLINE_TOKEN=token)
    return env


def cli(
    *args: str, server: HooklineProcess | None = None, token: str = ADMIN_TOKEN,
    timeout: float = 60, stdin: str = "",
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``hookline ARGS`` to the end (bounded), with stdin and output captured."""
    return subprocess.run(
        [sys.executable, "-m", "hookline", *args], env=cli_env(server, token), input=stdin,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class Lines:
    """The lines a running process writes, collected by a thread as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        """The lines so far."""
        with self._lock:
            return list(self.lines)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 15.0) -> str:
        """The first line that satisfies ``predicate``; fail after ``timeout``."""
        return wait_until(
            lambda: next((line for line in self.snapshot() if predicate(line)), None),
            timeout=timeout, what=f"a matching line in {self.snapshot()}",
        )  # fmt: skip

    def join(self) -> None:
        """Wait for the end of the stream (the process has exited)."""
        self._thread.join(10)


class Running:
    """``hookline ARGS`` running in the background, its output read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self.out = Lines(process.stdout)
        self.err = Lines(process.stderr)

    def wait(self, timeout: float = 30) -> int:
        """The exit code, once it has exited by itself (bounded); all output read."""
        code = self.process.wait(timeout)
        self.out.join()
        self.err.join()
        return code

    def stop(self, number: signal.Signals) -> int:
        """Send ``number``; the exit code (bounded wait)."""
        self.process.send_signal(number)
        return self.wait(15)


@contextmanager
def running(*args: str, server: HooklineProcess | None = None) -> Iterator[Running]:
    """Run ``hookline ARGS`` in the background for a block; killed at its end if still up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hookline", *args], env=cli_env(server), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with process:
        started = Running(process)
        try:
            yield started
        finally:
            if process.poll() is None:
                process.kill()
            started.wait(10)


def setup_endpoint(api: httpx.Client, url: str, **fields: Any) -> tuple[str, str, str]:
    """An application with one endpoint; (app id, endpoint id, secret)."""
    app = api.post("/api/v1/app", json={"name": "Acme"}).json()
    made = api.post(f"/api/v1/app/{app['id']}/endpoint", json={"url": url, **fields})
    assert made.status_code == 201, made.text
    endpoint = made.json()
    secret = api.get(f"/api/v1/app/{app['id']}/endpoint/{endpoint['id']}/secret").json()["key"]
    return app["id"], endpoint["id"], secret


def publish(api: httpx.Client, app_id: str, payload: dict[str, Any]) -> str:
    """Publish through the API; the message id."""
    answer = api.post(
        f"/api/v1/app/{app_id}/msg", json={"eventType": "invoice.paid", "payload": payload}
    )
    assert answer.status_code == 202, answer.text
    msg_id: str = answer.json()["id"]
    return msg_id


def attempts_of(api: httpx.Client, app_id: str, msg_id: str) -> list[dict[str, Any]]:
    """The message's attempts, oldest first."""
    page = api.get(f"/api/v1/app/{app_id}/attempt/msg/{msg_id}").json()
    return list(reversed(page["data"]))


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- send ---------------------------------------------------------------------------------------


def test_send_waits_and_shows_the_200_attempt(server: HooklineProcess, receiver: Receiver) -> None:
    """`send --wait` prints the message id, then the endpoint's 200 in a table."""
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, f"{receiver.url}/hooks", uid="main")
    done = cli("send", app_id, "invoice.paid", "--data", '{"amount": 5}', "--wait", server=server)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    (request,) = receiver.wait_for(1)
    assert request.headers["webhook-id"] == lines[0]
    assert json.loads(request.body) == {"amount": 5}
    row = next(line for line in lines if "main" in line)
    assert re.search(r"\b200\b", row)
    assert "ok" in row


def test_send_reads_the_payload_from_stdin_and_a_file(
    server: HooklineProcess, receiver: Receiver, tmp_path: Path
) -> None:
    """The payload comes from stdin when piped, or from --data @file."""
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
    piped = cli("send", app_id, "invoice.paid", server=server, stdin='{"from": "stdin"}')
    assert piped.returncode == 0, piped.stderr
    payload = tmp_path / "event.json"
    payload.write_text('{"from": "file"}')
    filed = cli("send", app_id, "invoice.paid", "--data", f"@{payload}", server=server)
    assert filed.returncode == 0, filed.stderr
    got = receiver.wait_for(2)
    assert sorted(json.loads(r.body)["from"] for r in got) == ["file", "stdin"]


def test_send_wait_exits_1_when_the_endpoint_fails(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """`send --wait` shows a 500 as failed and exits 1."""
    receiver.behaviour = lambda request, n: Answer(status=500, body="boom")
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
    done = cli("send", app_id, "invoice.paid", "--data", "{}", "--wait", server=server)
    assert done.returncode == 1
    row = next(line for line in done.stdout.splitlines() if ep_id in line)
    assert re.search(r"\b500\b", row)
    assert "failed" in row
    assert "failed at" in done.stderr


# --- tail ---------------------------------------------------------------------------------------


def test_tail_prints_each_attempt_once_as_it_happens(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """`tail --count 4` prints the two earlier attempts, then two made while it runs, once each."""
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url, uid="main")
        earlier = [publish(api, app_id, {"n": n}) for n in (1, 2)]
        for msg_id in earlier:
            wait_until(lambda m=msg_id: attempts_of(api, app_id, m), what="an attempt")
        with running(
            "tail", app_id, "--since", "5m", "--count", "4", "--interval", "0.1", server=server
        ) as tail:
            tail.out.wait_for(lambda line: earlier[1] in line)
            later = [publish(api, app_id, {"n": n}) for n in (3, 4)]
            assert tail.wait(30) == 0, tail.err.snapshot()
    lines = tail.out.snapshot()
    assert len(lines) == 4
    assert [line.split()[1] for line in lines] == earlier + later
    assert all(line.split()[2] == "main" and line.split()[3] == "200" for line in lines)


def test_tail_stops_cleanly_on_ctrl_c_and_sigterm(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """Ctrl-C (SIGINT) or SIGTERM ends `tail` with exit code 0 and no traceback."""
    with server.client() as api:
        app_id, _, _ = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"n": 1})
        wait_until(lambda: attempts_of(api, app_id, msg_id), what="an attempt")
    for number in (signal.SIGINT, signal.SIGTERM):
        with running("tail", app_id, "--since", "5m", "--interval", "0.1", server=server) as tail:
            tail.out.wait_for(lambda line: msg_id in line)
            assert tail.stop(number) == 0
            assert not any("Traceback" in line for line in tail.err.snapshot())


# --- recover ------------------------------------------------------------------------------------


def test_recover_resends_failed_messages(start_server: ServerFactory, receiver: Receiver) -> None:
    """Messages that failed while the receiver was down are re-sent by `recover --wait`."""
    server = start_server(retry_schedule="0.2s", retry_jitter="0")
    receiver.behaviour = lambda request, n: Answer(status=503)
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
        failed = {publish(api, app_id, {"n": n}) for n in (1, 2)}
        stats = f"/api/v1/app/{app_id}/endpoint/{ep_id}/stats"
        wait_until(lambda: api.get(stats).json()["fail"] == 2, what="two failed deliveries")
    tried = len(receiver.snapshot())
    receiver.behaviour = lambda request, n: Answer()
    done = cli(
        "recover", app_id, ep_id, "--since", "10m", "--wait", "--timeout", "30", server=server
    )
    assert done.returncode == 0, done.stderr
    assert "recovered: 2 message(s) re-queued" in done.stdout
    assert "re-sent: 2 delivered, 0 failed, 0 still pending" in done.stdout
    assert {r.headers["webhook-id"] for r in receiver.snapshot()[tried:]} == failed


def test_recover_says_how_many_are_still_retrying(
    start_server: ServerFactory, receiver: Receiver
) -> None:
    """`recover` with nothing failed yet says the messages still retrying, not just 0."""
    server = start_server(retry_schedule="1h", retry_jitter="0")
    receiver.behaviour = lambda request, n: Answer(status=401)
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, receiver.url)
        for n in (1, 2, 3):
            publish(api, app_id, {"n": n})
        wait_until(lambda: len(receiver.snapshot()) == 3, what="three first attempts")
    done = cli("recover", app_id, ep_id, "--since", "10m", server=server)
    assert done.returncode == 0, done.stderr
    assert "recovered: 0 message(s) re-queued" in done.stdout
    assert f"still retrying: 3 message(s) of {ep_id} in that window" in done.stdout


# --- resend -------------------------------------------------------------------------------------


def test_resend_sends_a_message_again_to_every_endpoint_it_went_to(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """`resend APP MSG` delivers the message again, same id, to the endpoints it reached."""
    with server.client() as api:
        app_id, ep_id, _ = setup_endpoint(api, f"{receiver.url}/hooks")
        msg_id = publish(api, app_id, {"invoice": "in_7"})
        wait_until(lambda: len(receiver.snapshot()) == 1, what="the first delivery")
    done = cli("resend", app_id, msg_id, server=server)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"re-sent {msg_id} to {ep_id}"
    wait_until(lambda: len(receiver.snapshot()) == 2, what="the re-sent delivery")
    assert {r.headers["webhook-id"] for r in receiver.snapshot()} == {msg_id}


def test_resend_of_a_message_with_no_attempt_asks_for_an_endpoint(
    server: HooklineProcess,
) -> None:
    """`resend` of a message that reached no endpoint says so and exits non-zero."""
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Quiet"}).json()
        msg_id = publish(api, app["id"], {"invoice": "in_8"})
    done = cli("resend", app["id"], msg_id, server=server)
    assert done.returncode != 0
    assert "has no attempt yet" in done.stderr
    assert "--endpoint" in done.stderr


# --- verify -------------------------------------------------------------------------------------


def test_verify_checks_a_delivered_request_by_hand(
    server: HooklineProcess, receiver: Receiver, tmp_path: Path
) -> None:
    """`verify` accepts a real delivery's headers and body, and rejects a tampered body."""
    with server.client() as api:
        app_id, _, secret = setup_endpoint(api, receiver.url)
        msg_id = publish(api, app_id, {"amount": 1999, "name": "Zoë"})
    (request,) = receiver.wait_for(1)
    body = tmp_path / "body.json"
    body.write_bytes(request.body)

    def headers(family: str) -> list[str]:
        picked = [f"{k}: {v}" for k, v in request.headers.items() if k.startswith(family)]
        assert len(picked) == 3
        return [arg for header in picked for arg in ("--header", header)]

    ok = cli("verify", "--secret", secret, *headers("webhook-"), "--body-file", str(body))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK")
    assert msg_id in ok.stdout
    piped = cli("verify", "--secret", secret, *headers("svix-"), stdin=request.body.decode())
    assert piped.returncode == 0, piped.stderr

    body.write_bytes(request.body.replace(b"1999", b"9999"))
    tampered = cli("verify", "--secret", secret, *headers("webhook-"), "--body-file", str(body))
    assert tampered.returncode == 1
    assert "no matching signature" in tampered.stderr
    wrong = cli("verify", "--secret", "whsec_not*base64", *headers("webhook-"), stdin="{}")
    assert wrong.returncode == 1
    assert "bad secret" in wrong.stderr


# --- listen -------------------------------------------------------------------------------------


def test_listen_verifies_prints_and_forwards_byte_for_byte(
    server: HooklineProcess, receiver: Receiver
) -> None:
    """`listen` gets a real delivery, shows it verified, forwards it exactly and relays the
    answer's status; a bad signature gets 401 and goes nowhere."""
    secret = hookline.generate_secret()
    receiver.behaviour = lambda request, n: Answer(status=202, body="accepted")
    with running(
        "listen", "--port", "0", "--secret", secret, "--forward-to", f"{receiver.url}/local/hooks"
    ) as listen:
        out = listen.out
        banner = out.wait_for(lambda line: "receiving on" in line)
        match = re.search(r"http://127\.0\.0\.1:\d+/", banner)
        assert match is not None
        listen_url = match.group(0)
        with server.client() as api:
            app_id, _, _ = setup_endpoint(api, f"{listen_url}webhooks", secret=secret)
            msg_id = publish(api, app_id, {"type": "invoice.paid", "name": "Zoë", "amount": 5})
            (forwarded,) = receiver.wait_for(1)
            (attempt,) = wait_until(lambda: attempts_of(api, app_id, msg_id), what="attempt")
        assert (attempt["responseStatusCode"], attempt["response"]) == (202, "accepted")
        assert forwarded.path == "/local/hooks"
        headers = {k.lower(): v for k, v in forwarded.headers.items()}
        assert headers["webhook-id"] == headers["svix-id"] == msg_id
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("hookline")
        # The signature is over the exact bytes: it verifies only if they are unchanged.
        hookline.verify(secret, forwarded.body, forwarded.headers, now=int(time.time()))
        assert json.loads(forwarded.body) == {"type": "invoice.paid", "name": "Zoë", "amount": 5}
        shown = out.wait_for(lambda line: msg_id in line)
        assert "invoice.paid" in shown
        assert "verified" in shown
        assert "forwarded" in shown
        assert '"amount": 5' in out.wait_for(lambda line: '"amount"' in line)

        forged = httpx.post(
            f"{listen_url}webhooks", content=b'{"amount": 1}', timeout=10,
            headers={"webhook-id": "msg_forged", "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1,AAAA"},
        )  # fmt: skip
        assert forged.status_code == 401
        assert "no matching signature" in out.wait_for(lambda line: "msg_forged" in line)
        assert len(receiver.snapshot()) == 1
        assert listen.stop(signal.SIGTERM) == 0
        assert not any("Traceback" in line for line in listen.err.snapshot())


def test_listen_without_a_secret_answers_200_and_stops_on_ctrl_c() -> None:
    """Without --secret or --forward-to, `listen` takes anything with 200; Ctrl-C ends it."""
    with running("listen", "--port", "0", "--path", "/hooks") as listen:
        out = listen.out
        banner = out.wait_for(lambda line: "receiving on" in line)
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match is not None
        got = httpx.post(f"{match.group(0)}/hooks/a", content=b"plain text", timeout=10)
        assert got.status_code == 200
        assert httpx.post(f"{match.group(0)}/other", content=b"", timeout=10).status_code == 404
        assert "not verified" in out.wait_for(lambda line: "/hooks/a" in line)
        assert listen.stop(signal.SIGINT) == 0


# --- commands that work on the database ---------------------------------------------------------


def database_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``hookline ARGS`` in ``cwd`` with no HOOKLINE_* settings, as a person's shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hookline", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "--name", "me"),
        ("token", "list"),
        ("source", "list", "--app", "acme"),
        ("catalogue",),
        ("export", "--app", "acme"),
        ("rekey",),
    ],
)
def test_a_database_command_in_the_wrong_folder_creates_nothing(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """Run where no hookline.db is, a database command says so and makes no database or key."""
    done = database_cli(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"database: sqlite:///{tmp_path / 'hookline.db'}" in done.stderr
    assert f"there is no database at {tmp_path / 'hookline.db'}" in done.stderr
    assert "--create" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_token_create_makes_a_new_database_only_when_asked(tmp_path: Path) -> None:
    """`token create --create` makes the database (and its key) and says which it used."""
    done = database_cli("token", "create", "--name", "first", "--create", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hk_")
    assert f"database: sqlite:///{tmp_path / 'hookline.db'}" in done.stderr
    assert (tmp_path / "hookline.db").is_file()
    assert (tmp_path / "hookline.key").is_file()
    listed = database_cli("token", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "first" in listed.stdout


# --- errors -------------------------------------------------------------------------------------


def test_errors_are_one_clear_line_and_exit_non_zero(server: HooklineProcess) -> None:
    """A bad token, an invalid request and an unreachable server each say so in one line."""
    refused = cli("send", "acme", "invoice.paid", "--data", "{}", server=server, token="hk_wrong")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "error: 401 authentication_failed: invalid token (check --token / HOOKLINE_TOKEN)"
    ]
    with server.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Acme"}).json()["id"]
    invalid = cli("send", app_id, "not a valid name!", "--data", "{}", server=server)
    assert invalid.returncode != 0
    (line,) = invalid.stderr.strip().splitlines()
    assert line.startswith("error: 422 invalid request: body.eventType: ")
    missing = cli("tail", "no-such-app", server=server)
    assert missing.returncode != 0
    assert "error: 404 not_found: application 'no-such-app' not found" in missing.stderr

    port = free_port()
    nowhere = cli(
        "recover", "acme", "ep", "--since", "1h", "--url", f"http://127.0.0.1:{port}",
        server=server,
    )  # fmt: skip
    assert nowhere.returncode != 0
    assert f"cannot connect to hookline at http://127.0.0.1:{port}" in nowhere.stderr
    assert "Traceback" not in refused.stderr + invalid.stderr + missing.stderr + nowhere.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("send", "acme", "invoice.paid"),
        ("tail", "acme"),
        ("resend", "acme", "msg_1"),
        ("recover", "acme", "ep", "--since", "1h"),
    ],
)
def test_api_commands_need_a_token(args: tuple[str, ...]) -> None:
    """Without --token or HOOKLINE_TOKEN, an API command stops before sending anything."""
    done = cli(args[0], "--help")
    assert "HOOKLINE_TOKEN" in done.stdout
    missing = cli(*args)
    assert missing.returncode == 2
    assert "--token" in missing.stderr
