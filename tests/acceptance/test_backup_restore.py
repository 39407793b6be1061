"""Backup and restore of a serving hookline: a copy taken under load restores and delivers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from support.polling import wait_until
from support.receiver import Answer, Received, Receiver
from support.server import AUTH, ServerFactory


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


def hookline(*args: str, database_url: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    """Run a ``hookline`` command on a database, with the servers' key file."""
    env = {
        **os.environ, "HOOKLINE_DATABASE_URL": database_url,
        "HOOKLINE_SECRET_KEY_FILE": str(key_file),
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "hookline", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def undelivered(backup: Path) -> set[tuple[str, str]]:
    """(message id, endpoint path) of every delivery the backup holds as not yet made."""
    with contextlib.closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT d.msg_id, e.url FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id"
            " WHERE d.status IN ('pending', 'waiting', 'queued', 'held')"
        ).fetchall()
    return {(msg_id, "/" + url.rsplit("/", 1)[1]) for msg_id, url in rows}


def table_ids(backup: Path, query: str, *params: str) -> list[Any]:
    """The first column of ``query`` on the backup."""
    with contextlib.closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute(query, params)]


def test_a_backup_taken_under_load_restores_to_a_server_that_delivers_what_was_pending(
    start_server: ServerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    """A backup taken while messages pour in is consistent, and its pending deliveries arrive."""
    restored_up = threading.Event()

    def behaviour(request: Received, _count: int) -> Answer:
        if restored_up.is_set():
            return Answer()
        if request.path == "/down":
            return Answer(status=503, body="down for maintenance")
        return Answer(delay=1.0)  # /slow: in flight for a second, then delivered

    receiver.behaviour = behaviour
    first = start_server(retry_schedule=",".join(["2s"] * 30), retry_jitter="0")
    key_file = tmp_path / "hookline.key"
    with first.client() as api:
        app_id = api.post("/api/v1/app", json={"name": "Shop"}).json()["id"]
        for path in ("/down", "/slow"):
            made = api.post(f"/api/v1/app/{app_id}/endpoint", json={"url": receiver.url + path})
            assert made.status_code == 201, made.text
    publisher = Publisher(first.url, AUTH, app_id)
    publisher.start()
    try:
        wait_until(lambda: len(publisher.accepted) >= 150, timeout=60, what="150 publishes")
        wait_until(receiver.snapshot, what="attempts under way")
        backup_file = tmp_path / "backups" / "hookline-backup.db"
        started = time.monotonic()
        taken = hookline("backup", str(backup_file), database_url=first.database_url,
                         key_file=key_file)  # fmt: skip
        published_meanwhile = sum(1 for _, at in publisher.accepted if at > started)
    finally:
        publisher.stop()
    assert taken.returncode == 0, taken.stderr
    assert publisher.refused == []
    assert published_meanwhile > 0, "the load did not run during the backup"

    # The copy is consistent: every message accepted before the backup began is in it,
    # each with its two deliveries (stored with it in one transaction).
    in_backup = set(table_ids(backup_file, "SELECT id FROM messages WHERE app_id = ?", app_id))
    before = {msg_id for msg_id, at in publisher.accepted if at < started}
    assert before <= in_backup
    assert in_backup <= {msg_id for msg_id, _ in publisher.accepted}
    per_message = table_ids(backup_file, "SELECT count(*) FROM deliveries GROUP BY msg_id")
    assert set(per_message) == {2}
    assert f"{len(in_backup)} message(s)" in taken.stdout
    pending = undelivered(backup_file)
    assert {path for _, path in pending} == {"/down", "/slow"}
    assert f"{len(pending)} delivery(ies) not yet delivered" in taken.stdout

    # The machine is lost: kill -9, and restore the backup somewhere new.
    first.kill()
    restored_url = f"sqlite:///{tmp_path / 'restored' / 'hookline.db'}"
    restored = hookline("restore", str(backup_file), database_url=restored_url,
                        key_file=key_file)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert f"{len(pending)} delivery(ies) will be attempted" in restored.stdout

    seen_before = len(receiver.snapshot())
    restored_up.set()
    second = start_server(database_url=restored_url, retry_schedule="1s", retry_jitter="0")

    def everything_arrived() -> set[tuple[str, str]] | None:
        got = {(r.headers["webhook-id"], r.path) for r in receiver.snapshot()[seen_before:]}
        return got if pending <= got else None

    arrived = wait_until(everything_arrived, timeout=60, what="every pending delivery")
    # Nothing the backup did not hold is sent: it has only the backup's messages.
    assert {msg_id for msg_id, _ in arrived} <= in_backup
    with second.client() as api:
        listed = api.get(f"/api/v1/app/{app_id}/msg", params={"limit": 250}).json()
    assert len(listed["data"]) == min(len(in_backup), 250)
