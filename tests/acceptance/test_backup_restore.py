"""Backup and restore of a serving hookline: a copy taken under load restores and delivers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from hookline.backup import RELEASE_LEASES, postgres_recipe

import pg
from support.database import query
from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import AUTH, HooklineProcess, ServerFactory


class Publisher(threading.Thread):
    """Publishes to one application as fast as the server answers, until stopped."""

    def __init__(self, url: str, headers: dict[str, str], app_id: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30)
        self.app_id = app_id
        self.stopping = threading.Event()
        #: (message id, when the 202 came), in order.
        self.accepted: list[tuple[str, float]] = []
        self.refused: list[str] = []
        #: When the copy under load began (``copy_under_load``).
        self.copy_started = 0.0

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            number += 1
            try:
                answer = self.client.post(
                    f"/api/v1/app/{self.app_id}/msg",
                    json={"eventType": "order.paid", "payload": {"number": number}},
                )
            except httpx.HTTPError as error:
                self.refused.append(repr(error))
                continue
            if answer.status_code == 202:
                self.accepted.append((answer.json()["id"], time.monotonic()))
            else:
                self.refused.append(f"{answer.status_code} {answer.text}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.client.close()


def hookline_command(*args: str, database_url: str, key_file: Path) -> list[str]:
    """A ``hookline`` command line on a database, with the servers' key file."""
    return [
        "env", f"HOOKLINE_DATABASE_URL={database_url}", f"HOOKLINE_SECRET_KEY_FILE={key_file}",
        sys.executable, "-m", "hookline", *args,
    ]  # fmt: skip


def hookline(*args: str, database_url: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    """Run a ``hookline`` command on a database, with the servers' key file."""
    return subprocess.run(
        hookline_command(*args, database_url=database_url, key_file=key_file),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


class Outage:
    """A receiver with two endpoints, one down (503) and one slow, until ``recover``."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.recovered = threading.Event()
        receiver.behaviour = self.answer
        self.seen_before = 0

    def answer(self, request: Received, _count: int) -> Answer:
        if self.recovered.is_set():
            return Answer()
        if request.path == "/down":
            return Answer(status=503, body="down for maintenance")
        return Answer(delay=1.0)  # /slow: in flight for a second, then delivered

    def recover(self) -> None:
        """From now on every request succeeds; ``arrived`` counts only what comes next."""
        self.seen_before = len(self.receiver.snapshot())
        self.recovered.set()

    def arrived(self) -> set[tuple[str, str]]:
        """(message id, path) of the requests received since ``recover``."""
        return {
            (r.headers["webhook-id"], r.path) for r in self.receiver.snapshot()[self.seen_before :]
        }


def serve_under_load(server: HooklineProcess, receiver: Receiver) -> tuple[str, Publisher]:
    """An application with the two endpoints, and a publisher already sending to it."""
    with server.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Shop"}).json()["id"]
        for path in ("/down", "/slow"):
            made = api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": receiver.url + path})
            assert made.status_code == 201, made.text
    publisher = Publisher(server.url, AUTH, app_id)
    publisher.start()
    wait_until(lambda: len(publisher.accepted) >= 150, timeout=60, what="150 publishes")
    wait_until(receiver.snapshot, what="attempts under way")
    return app_id, publisher


def copy_under_load(publisher: Publisher, copy: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the copying command while the publisher goes on; it must publish meanwhile."""
    started = time.monotonic()
    try:
        done = subprocess.run(copy, capture_output=True, text=True, timeout=120, check=False)
        meanwhile = sum(1 for _, at in publisher.accepted if at > started)
    finally:
        publisher.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert publisher.refused == []
    assert meanwhile > 0, "the load did not run during the copy"
    publisher.copy_started = started
    return done


UNDELIVERED = (
    "SELECT d.msg_id, e.url FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id"
    " WHERE d.status IN ('pending', 'waiting', 'queued', 'held')"
)


def check_consistent(database_url: str, app_id: str, publisher: Publisher) -> set[str]:
    """The copy holds every message accepted before it began, each with its two deliveries."""
    in_copy = {row[0] for row in query(database_url, "SELECT id FROM messages WHERE app_id = ?",
                                       (app_id,))}  # fmt: skip
    before = {msg_id for msg_id, at in publisher.accepted if at < publisher.copy_started}
    assert before <= in_copy
    assert in_copy <= {msg_id for msg_id, _ in publisher.accepted}
    per_message = query(database_url, "SELECT count(*) FROM deliveries GROUP BY msg_id")
    assert {row[0] for row in per_message} == {2}
    return in_copy


def undelivered(database_url: str) -> set[tuple[str, str]]:
    """(message id, endpoint path) of every delivery the database holds as not yet made."""
    rows = query(database_url, UNDELIVERED)
    found = {(msg_id, "/" + url.rsplit("/", 1)[1]) for msg_id, url in rows}
    assert {path for _, path in found} == {"/down", "/slow"}
    return found


def test_a_backup_taken_under_load_restores_to_a_server_that_delivers_what_was_pending(
    start_server: ServerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    """A backup taken while messages pour in is consistent, and its pending deliveries arrive."""
    outage = Outage(receiver)
    first = start_server(retry_schedule=",".join(["2s"] * 30), retry_jitter="0")
    key_file = tmp_path / "hookline.key"
    app_id, publisher = serve_under_load(first, receiver)
    backup_file = tmp_path / "backups" / "hookline-backup.db"
    command = hookline_command(
        "backup", str(backup_file), database_url=first.database_url, key_file=key_file
    )
    taken = copy_under_load(publisher, command)
    backup_url = f"sqlite:///{backup_file}"
    in_backup = check_consistent(backup_url, app_id, publisher)
    assert f"{len(in_backup)} message(s)" in taken.stdout
    pending = undelivered(backup_url)
    assert f"{len(pending)} delivery(ies) not yet delivered" in taken.stdout

    # The machine is lost: kill -9, and restore the backup somewhere new.
    first.kill()
    restored_url = f"sqlite:///{tmp_path / 'restored' / 'hookline.db'}"
    restored = hookline("restore", str(backup_file), database_url=restored_url,
                        key_file=key_file)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert f"{len(pending)} pending delivery(ies) will be attempted" in restored.stdout

    outage.recover()
    second = start_server(database_url=restored_url, retry_schedule="1s", retry_jitter="0")
    arrived = wait_until(lambda: outage.arrived() >= pending and outage.arrived(), timeout=60,
                         what="every pending delivery")  # fmt: skip
    # Nothing the backup did not hold is sent: it has only the backup's messages.
    assert {msg_id for msg_id, _ in arrived} <= in_backup
    with second.client() as api:
        listed = api.get(f"/api/v1/app/{app_id}/msg", params={"limit": 250}).json()
    assert len(listed["data"]) == min(len(in_backup), 250)


@pytest.mark.postgres
def test_the_pg_dump_recipe_restores_a_serving_database_that_then_delivers(
    start_server: ServerFactory, receiver: Receiver, tmp_path: Path, pg_server: pg.Server,
    pg_database_url: str,
) -> None:  # fmt: skip
    """The documented pg_dump / pg_restore recipe, run under load, restores and delivers."""
    outage = Outage(receiver)
    first = start_server(database_url=pg_database_url, retry_schedule=",".join(["2s"] * 30),
                         retry_jitter="0")  # fmt: skip
    app_id, publisher = serve_under_load(first, receiver)
    dump = tmp_path / "hookline.dump"
    recipe = postgres_recipe("backup", str(dump))
    assert f'pg_dump --format=custom --file={dump} "$HOOKLINE_DATABASE_URL"' in recipe
    copy_under_load(publisher, ["pg_dump", "--format=custom", f"--file={dump}", pg_database_url])
    first.kill()

    restoring = postgres_recipe("restore", str(dump))
    with pg_server.database(migrated=False) as restored_url:
        steps = [
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)],
            ["psql", restored_url, "-c", RELEASE_LEASES],
        ]
        assert "pg_restore --no-owner --exit-on-error --dbname=" in restoring
        assert RELEASE_LEASES in restoring
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
        in_copy = check_consistent(restored_url, app_id, publisher)
        pending = undelivered(restored_url)
        outage.recover()
        second = start_server(database_url=restored_url, retry_schedule="1s", retry_jitter="0")
        arrived = wait_until(lambda: outage.arrived() >= pending and outage.arrived(), timeout=60,
                             what="every pending delivery")  # fmt: skip
        assert {msg_id for msg_id, _ in arrived} <= in_copy
        second.kill()
