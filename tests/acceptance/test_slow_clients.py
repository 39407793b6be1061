"""Slow and greedy clients against a real server: cut off in bounded time, refused when
over a cap, and failed authentications throttled, on the API, the inbound gateway and
the dashboard alike.

One server with small limits serves the module. Each test speaks from loopback
addresses of its own (127.0.0.2, 127.0.0.3...), so the caps and the throttle,
which count per client address, never mix one test's connections with another's.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hookline import generate_secret

from support.server import AUTH, HooklineProcess

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_HEADER_BYTES = 8192
PER_ADDRESS = 40
IN_ALL = 150
FAILURES = 5
#: What the server may take beyond a deadline to act on it (its sweeper's period is a
#: quarter of the shortest timeout), plus room for a loaded machine.
SLACK = 4.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HooklineProcess]:
    """One ``hookline serve`` with small limits for the whole module."""
    directory = tmp_path_factory.mktemp("slow-clients")
    settings = {
        "HEADER_TIMEOUT": HEADER_TIMEOUT, "BODY_TIMEOUT": BODY_TIMEOUT,
        "MAX_HEADER_BYTES": MAX_HEADER_BYTES, "MAX_CONNECTIONS_PER_ADDRESS": PER_ADDRESS,
        "MAX_CONNECTIONS": IN_ALL, "KEEP_ALIVE_TIMEOUT": 1, "MAX_REQUESTS_PER_CONNECTION": 3,
        "AUTH_FAILURE_LIMIT": FAILURES, "AUTH_FAILURE_WINDOW": 60,
        "SECRET_KEY_FILE": directory / "hookline.key",
    }  # fmt: skip
    process = HooklineProcess(
        f"sqlite:///{directory / 'hookline.db'}",
        {f"HOOKLINE_{name}": str(value) for name, value in settings.items()},
    )
    process.start(directory / "hookline.log")
    yield process
    process.kill()


@pytest.fixture(scope="module")
def ingest_path(server: HooklineProcess) -> str:
    """The path of a real inbound source on the server."""
    secret = generate_secret()
    with server.client() as api:
        app = api.post("/api/v1/app", json={"name": "Slow"}).json()
        source = api.post(
            f"/api/v1/app/{app['id']}/source",
            json={"name": "p", "verifier": {"type": "standard_webhooks", "secrets": [secret]}},
        ).json()
    return str(source["ingestUrl"]).removeprefix(server.url)


def connect(server: HooklineProcess, client: str) -> socket.socket:
    """A raw connection to the server from the loopback address ``client``."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10, source_address=(client, 0))


def until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (monotonic)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return received, time.monotonic()


def status(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0: no answer)."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def client_at(server: HooklineProcess, address: str, **options: Any) -> httpx.Client:
    """An HTTP client speaking from the loopback address ``address``."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=10, **options)


def test_connections_holding_half_their_headers_are_closed_within_the_header_timeout(
    server: HooklineProcess, ingest_path: str
) -> None:
    """Thirty connections that send part of their headers, and six that send nothing,
    are all closed soon after the header timeout; those that sent something get 408."""
    partial = [
        b"POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bea",
        f"POST {ingest_path} HTTP/1.1\r\nHost: x\r\nContent-Ty".encode(),
        b"GET /dashboard/sign-in HTTP/1.1\r\nHost: x\r\n",
    ]
    started = time.monotonic()
    talking = []
    for index in range(30):
        sock = connect(server, "127.0.0.2")
        sock.sendall(partial[index % len(partial)])
        talking.append(sock)
    silent = [connect(server, "127.0.0.2") for _ in range(6)]

    answers = [until_closed(sock) for sock in talking]
    quiet = [until_closed(sock) for sock in silent]

    assert [status(answer) for answer, _ in answers] == [408] * 30
    assert [answer for answer, _ in quiet] == [b""] * 6
    closed_by = max(at for _, at in answers + quiet) - started
    assert HEADER_TIMEOUT - 0.1 < closed_by < HEADER_TIMEOUT + SLACK


def test_headers_sent_slowly_but_within_the_timeout_are_served(server: HooklineProcess) -> None:
    """Headers that arrive in pieces over less than the header timeout get their answer."""
    sock = connect(server, "127.0.0.2")
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
    time.sleep(HEADER_TIMEOUT / 2)
    sock.sendall(b"Connection: close\r\n\r\n")
    answer, _ = until_closed(sock)
    assert status(answer) == 204


def test_bodies_cut_short_answer_408_within_the_body_timeout(
    server: HooklineProcess, ingest_path: str
) -> None:
    """A body announced by Content-Length but sent in part, to the API, the inbound
    gateway or the dashboard's sign-in, answers 408 and closes after the body timeout."""
    token = AUTH["Authorization"]
    requests = [
        f"POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": "Ac',
        f"POST {ingest_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"type": "in',
        "POST /dashboard/sign-in HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ntoken=hk_",
    ]
    with server.client() as api:
        apps_before = len(api.get("/api/v1/app", params={"limit": 250}).json()["data"])
    started = time.monotonic()
    socks = []
    for request in requests * 4:
        sock = connect(server, "127.0.0.3")
        sock.sendall(request.encode())
        socks.append(sock)
    answers = [until_closed(sock) for sock in socks]
    assert [status(answer) for answer, _ in answers] == [408] * 12
    assert all(b"request_timeout" in answer for answer, _ in answers)
    closed_by = max(at for _, at in answers) - started
    assert BODY_TIMEOUT - 0.1 < closed_by < BODY_TIMEOUT + SLACK
    with server.client() as api:  # the requests cut short created nothing
        assert len(api.get("/api/v1/app", params={"limit": 250}).json()["data"]) == apps_before


@pytest.mark.parametrize("path", ["/api/v1/app", "ingest", "/dashboard/sign-in"])
@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1000, 1024 * 1024])
def test_oversized_headers_answer_431(
    server: HooklineProcess, ingest_path: str, path: str, size: int
) -> None:
    """A header block over the cap, just over or a 1 MB Authorization header, answers
    431 and closes, on the API, the inbound gateway and the dashboard."""
    target = ingest_path if path == "ingest" else path
    sock = connect(server, "127.0.0.4")
    head = f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ".encode()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-way
        sock.sendall(head + b"a" * size + b"\r\n\r\n")
    answer, _ = until_closed(sock)
    assert status(answer) == 431
    assert b"headers_too_large" in answer


def test_headers_just_under_the_cap_are_served(server: HooklineProcess) -> None:
    """Headers a little under the cap are read and answered as usual."""
    with client_at(server, "127.0.0.4") as client:
        padding = "p" * (MAX_HEADER_BYTES - 1000)
        answer = client.get("/api/v1/app", headers={**AUTH, "X-Padding": padding})
    assert answer.status_code == 200


def test_connections_over_the_per_address_cap_are_refused_and_others_unaffected(
    server: HooklineProcess,
) -> None:
    """One address holding the cap's worth of connections gets 503 for the next one, while
    another address is served; once it lets some go, it is served again."""
    held = [connect(server, "127.0.0.5") for _ in range(PER_ADDRESS)]
    try:
        time.sleep(0.2)  # the server has taken every one in
        over = connect(server, "127.0.0.5")
        answer, _ = until_closed(over)
        assert status(answer) == 503
        assert b"retry-after: 1" in answer
        with client_at(server, "127.0.0.6") as other:
            assert other.get("/api/v1/health").status_code == 204
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with client_at(server, "127.0.0.5") as again:
        assert again.get("/api/v1/health").status_code == 204


def test_connections_over_the_cap_in_all_are_refused(server: HooklineProcess) -> None:
    """Connections from many addresses, each under its own cap, stop at the cap in all."""
    held = []
    try:
        for index in range(IN_ALL):
            held.append(connect(server, f"127.0.1.{index % 10 + 1}"))
        time.sleep(0.2)
        answer, _ = until_closed(connect(server, "127.0.2.1"))
        assert status(answer) == 503
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with client_at(server, "127.0.2.1") as client:
        assert client.get("/api/v1/health").status_code == 204


def test_a_kept_alive_connection_is_closed_after_its_requests_or_when_idle(
    server: HooklineProcess,
) -> None:
    """The third request of a connection is answered with connection: close; an idle
    kept-alive connection is closed after the keep-alive timeout."""
    with client_at(server, "127.0.0.7") as client:
        answers = [client.get("/api/v1/health") for _ in range(3)]
    assert [a.headers.get("connection") for a in answers] == [None, None, "close"]

    sock = connect(server, "127.0.0.7")
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    started = time.monotonic()
    answer, closed_at = until_closed(sock)
    assert status(answer) == 204
    assert closed_at - started < 1 + SLACK


def test_a_connection_answered_before_its_body_ended_is_closed_when_idle(
    server: HooklineProcess,
) -> None:
    """A POST refused before its body is read (401), whose body then arrives, is closed
    after the keep-alive timeout like any idle connection."""
    sock = connect(server, "127.0.0.7")
    sock.sendall(b"POST /api/v1/app HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    assert status(sock.recv(65536)) == 401
    sock.sendall(b"0123456789")
    started = time.monotonic()
    _, closed_at = until_closed(sock)
    assert closed_at - started < 1 + SLACK


def test_failed_tokens_are_throttled_per_address_and_valid_ones_pass(
    server: HooklineProcess,
) -> None:
    """Past the limit, a wrong token from one address answers 429 with Retry-After;
    a valid token from that address, even one never used before, is still served, and
    another address still gets 401."""
    with server.client() as admin:
        app = admin.post("/api/v1/app", json={"name": "Throttled"}).json()
        made = admin.post("/api/v1/auth/token", json={"name": "t", "appId": app["id"]})
        fresh = {"Authorization": f"Bearer {made.json()['token']}"}
    wrong = {"Authorization": "Bearer hk_wrong_token_0123456789abcdefghijklmnop"}
    with client_at(server, "127.0.0.8") as client:
        refused = [client.get("/api/v1/app", headers=wrong) for _ in range(FAILURES + 3)]
        assert [a.status_code for a in refused] == [401] * FAILURES + [429] * 3
        assert all(int(a.headers["retry-after"]) >= 1 for a in refused[FAILURES:])
        assert refused[-1].json()["code"] == "rate_limited"
        assert client.get("/api/v1/app", headers=AUTH).status_code == 200
        # An application's token made just now, used for the first time:
        assert client.get(f"/api/v1/app/{app['id']}", headers=fresh).status_code == 200
    with client_at(server, "127.0.0.9") as elsewhere:
        assert elsewhere.get("/api/v1/app", headers=wrong).status_code == 401


def test_failed_sign_ins_are_throttled_with_the_api_failures_of_the_address(
    server: HooklineProcess,
) -> None:
    """Failed API tokens and failed dashboard sign-ins count together per address: past
    the limit a sign-in with a wrong token answers 429 with Retry-After, while the admin
    token still signs in."""
    wrong = "hk_wrong_token_0123456789abcdefghijklmnop"
    with client_at(server, "127.0.0.10") as client:
        for _ in range(FAILURES - 1):
            answer = client.get("/api/v1/app", headers={"Authorization": f"Bearer {wrong}"})
            assert answer.status_code == 401
        last = client.post("/dashboard/sign-in", data={"token": wrong})
        assert last.status_code == 401
        throttled = client.post("/dashboard/sign-in", data={"token": wrong})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins" in throttled.text
        signed = client.post("/dashboard/sign-in", data={"token": AUTH["Authorization"][7:]})
        assert signed.status_code == 303
        portal = client.post("/portal/session", data={"token": wrong})
        assert portal.status_code == 429
        assert int(portal.headers["retry-after"]) >= 1


def test_the_server_log_holds_no_error_from_the_slow_clients(server: HooklineProcess) -> None:
    """Cutting clients off is routine: no traceback, no error line in the server's log
    (this module's last test: the others have run on this server)."""
    logs = server.logs()
    assert "Traceback" not in logs
    assert '"level":"error"' not in logs
