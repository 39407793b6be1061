"""Backup and restore of SQLite databases (``hookline.backup`` and its commands), on real files."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from hookline import backup
from hookline.cli import main
from hookline.domain import ids, operational
from hookline.domain.models import Application, Endpoint, Message
from hookline.domain.secrets import key_id
from hookline.errors import BackupError
from hookline.storage import Storage, storage_from_url
from hookline.storage.migrations import available

from support.keyring import OTHER_TEST_KEY, TEST_KEY, TEST_SECRET_BOX

KEY_A = key_id(base64.urlsafe_b64decode(TEST_KEY))
SECRET = "whsec_" + base64.b64encode(b"the endpoint's own secret, 32 B!").decode()


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Storage]:
    """A hookline SQLite storage on ``path``, open (so live) until the block ends."""
    store = storage_from_url(f"sqlite:///{path}", secret_box=TEST_SECRET_BOX)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def make_database(path: Path, messages: int = 3) -> tuple[str, list[str]]:
    """A hookline database with an application, an endpoint and ``messages`` pending deliveries."""
    now = time.time()
    async with opened(path) as store:
        app = await store.create_application(
            Application(id=ids.new_id(ids.APPLICATION, now), name="Acme", created_at=now,
                        updated_at=now)
        )  # fmt: skip
        await store.create_endpoint(
            Endpoint(id=ids.new_id(ids.ENDPOINT, now), app_id=app.id, url="https://example.com/h",
                     secret=SECRET, created_at=now, updated_at=now)
        )  # fmt: skip
        made = []
        for number in range(messages):
            message = Message(
                id=ids.new_id(ids.MESSAGE, now), app_id=app.id, event_type="order.paid",
                payload=b'{"n": %d}' % number, created_at=now,
            )  # fmt: skip
            await store.publish(message)
            made.append(message.id)
    return app.id, made


def rows(path: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of one statement, on a connection of its own."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(statement, params).fetchall()


@contextlib.contextmanager
def writer_committing(path: Path) -> Iterator[list[float]]:
    """A second connection committing rows into ``path`` as fast as it can, meanwhile."""
    commits: list[float] = []
    stop = threading.Event()

    def write() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as db:
            number = 0
            while not stop.is_set():
                number += 1
                db.execute(
                    "INSERT INTO applications (id, name, created_at, updated_at)"
                    " VALUES (?, 'load', 0, 0)",
                    (f"app_load_{number}",),
                )
                commits.append(time.monotonic())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield commits
    finally:
        stop.set()
        thread.join(10)


def test_a_backup_is_one_snapshot_while_another_connection_commits(tmp_path: Path) -> None:
    """The copy is one snapshot taken in steps, never restarted by the writer, who goes on."""
    source = tmp_path / "hookline.db"
    asyncio.run(make_database(source, messages=200))
    with writer_committing(source) as commits:
        while len(commits) < 50:
            time.sleep(0.01)
        before = len(rows(source, "SELECT id FROM applications WHERE id <> ?", operational.APP_ID))
        started = time.monotonic()
        report = backup.backup(source, tmp_path / "copy.db", pages_per_step=8)
        finished = time.monotonic()
        time.sleep(0.05)
    during = [at for at in commits if started < at < finished]
    copied = report.contents.applications
    assert before <= copied <= before + len(during) + 1
    # Each step copied 8 pages of one snapshot: no step started the copy over.
    assert report.steps == -(-report.pages // 8)
    assert report.pages > 8
    assert during, "the writer was blocked during the backup"
    assert report.contents.path == tmp_path / "copy.db"
    assert rows(tmp_path / "copy.db", "PRAGMA journal_mode") == [("delete",)]
    assert not list(tmp_path.glob(".copy.db.*"))


async def test_a_backup_says_what_it_holds(tmp_path: Path) -> None:
    """The check counts applications, endpoints, messages, pending deliveries and names the key."""
    await make_database(tmp_path / "hookline.db", messages=3)
    report = backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    contents = report.contents
    assert (contents.applications, contents.endpoints, contents.messages) == (1, 1, 3)
    assert contents.unfinished["pending"] == 3
    assert contents.undelivered == 3
    assert contents.key_ids == (KEY_A,)
    assert contents.schema_version == len(available("sqlite"))
    described = "\n".join(contents.describe())
    assert "3 message(s)" in described
    assert f"secrets sealed under key(s): {KEY_A}" in described


async def test_a_backup_refuses_to_replace_a_file_unless_forced(tmp_path: Path) -> None:
    """An existing backup file is kept unless --force."""
    await make_database(tmp_path / "hookline.db")
    (tmp_path / "copy.db").write_text("yesterday's backup")
    with pytest.raises(BackupError, match="exists; pass --force"):
        backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    assert (tmp_path / "copy.db").read_text() == "yesterday's backup"
    assert backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db", force=True).pages > 0


def test_a_backup_of_a_missing_or_foreign_database_is_refused(tmp_path: Path) -> None:
    """A missing file, or a SQLite file that is not hookline's, gives no backup."""
    with pytest.raises(BackupError, match="no such database"):
        backup.backup(tmp_path / "nothing.db", tmp_path / "copy.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "other.db")) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(BackupError, match="not a hookline database"):
        backup.backup(tmp_path / "other.db", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


async def test_restore_refuses_what_is_not_a_hookline_database(tmp_path: Path) -> None:
    """A text file, a foreign SQLite file and a damaged copy are refused; nothing is written."""
    target = tmp_path / "restored.db"
    (tmp_path / "notes.txt").write_text("not a database")
    with contextlib.closing(sqlite3.connect(tmp_path / "other.db")) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    await make_database(tmp_path / "hookline.db")
    backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    damaged = bytearray((tmp_path / "copy.db").read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 4096] = b"\xff" * 4096
    (tmp_path / "damaged.db").write_bytes(bytes(damaged))
    for name, reason in [
        ("notes.txt", "not a SQLite database"),
        ("other.db", "not a hookline database"),
        ("damaged.db", "integrity|damaged|malformed"),
    ]:
        with pytest.raises(BackupError, match=reason):
            backup.restore(tmp_path / name, target)
    assert not target.exists()


async def test_restore_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A backup from a hookline with more migrations than this one is refused, naming both."""
    await make_database(tmp_path / "hookline.db")
    backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    newer = len(available("sqlite")) + 1
    rows(tmp_path / "copy.db", "INSERT INTO schema_migrations VALUES (?, 'from_the_future', 0)",
         newer)  # fmt: skip
    with pytest.raises(BackupError, match=f"schema version {newer}, newer than"):
        backup.restore(tmp_path / "copy.db", tmp_path / "restored.db")
    assert not (tmp_path / "restored.db").exists()


async def test_restore_replaces_an_existing_database_only_when_forced(tmp_path: Path) -> None:
    """An existing database is refused; with force it is replaced by the backup's contents."""
    await make_database(tmp_path / "hookline.db", messages=2)
    backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    await make_database(tmp_path / "other.db", messages=5)
    with pytest.raises(BackupError, match="exists; pass --force"):
        backup.restore(tmp_path / "copy.db", tmp_path / "other.db")
    assert rows(tmp_path / "other.db", "SELECT count(*) FROM messages") == [(5,)]
    restored = backup.restore(tmp_path / "copy.db", tmp_path / "other.db", force=True)
    assert restored.messages == 2
    assert rows(tmp_path / "other.db", "SELECT count(*) FROM messages") == [(2,)]


async def test_restore_refuses_a_database_a_running_hookline_has_open(tmp_path: Path) -> None:
    """While a storage has the target open it counts as live and is refused without force."""
    await make_database(tmp_path / "hookline.db")
    backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    async with opened(tmp_path / "live.db"):
        assert backup.is_live(tmp_path / "live.db")
        with pytest.raises(BackupError, match="open in a running hookline"):
            backup.restore(tmp_path / "copy.db", tmp_path / "live.db")
    assert not backup.is_live(tmp_path / "live.db")
    (tmp_path / "notes.txt").write_text("not a database")
    assert not backup.is_live(tmp_path / "notes.txt")
    with pytest.raises(BackupError, match="exists; pass --force"):
        backup.restore(tmp_path / "copy.db", tmp_path / "notes.txt")


async def test_restore_releases_the_leases_of_deliveries_in_flight(tmp_path: Path) -> None:
    """Deliveries leased when the backup was taken are due at once after a restore."""
    await make_database(tmp_path / "hookline.db", messages=2)
    now = time.time()
    async with opened(tmp_path / "hookline.db") as store:
        claimed = await store.claim("worker-1", now, now + 3600, 10)
    assert len(claimed) == 2
    taken = backup.backup(tmp_path / "hookline.db", tmp_path / "copy.db")
    assert taken.contents.leased == 2
    restored = backup.restore(tmp_path / "copy.db", tmp_path / "restored.db")
    assert restored.leased == 0
    async with opened(tmp_path / "restored.db") as store:
        again = await store.claim("worker-2", time.time(), time.time() + 60, 10)
    assert sorted(d.id for d in again) == sorted(d.id for d in claimed)


def test_the_commands_give_the_pg_dump_recipe_on_postgresql(tmp_path: Path) -> None:
    """On PostgreSQL, backup and restore do nothing but print the pg_dump/pg_restore recipe."""
    runner = CliRunner()
    env = {"HOOKLINE_DATABASE_URL": "postgresql://hookline:pw@db.internal/hookline"}
    made = runner.invoke(main, ["backup", str(tmp_path / "h.dump")], env=env)
    assert made.exit_code == 2
    assert "pg_dump --format=custom" in made.output
    assert "pw" not in made.output
    (tmp_path / "h.dump").write_bytes(b"PGDMP")
    restored = runner.invoke(main, ["restore", str(tmp_path / "h.dump")], env=env)
    assert restored.exit_code == 2
    assert "pg_restore" in restored.output


async def test_the_commands_back_up_and_restore_and_check_the_key(tmp_path: Path) -> None:
    """`hookline backup` then `restore` report the contents; a restore without its key stops."""
    await make_database(tmp_path / "hookline.db", messages=4)
    runner = CliRunner()
    env = {"HOOKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hookline.db'}",
           "HOOKLINE_SECRET_KEY": TEST_KEY}  # fmt: skip
    made = runner.invoke(main, ["backup", str(tmp_path / "copy.db")], env=env)
    assert made.exit_code == 0, made.output
    assert "4 message(s)" in made.output
    assert "the secret key is not in the backup" in made.output

    elsewhere = {"HOOKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'hookline.db'}",
                 "HOOKLINE_SECRET_KEY": OTHER_TEST_KEY}  # fmt: skip
    refused = runner.invoke(main, ["restore", str(tmp_path / "copy.db")], env=elsewhere)
    assert refused.exit_code == 1
    assert f"sealed under key(s) {KEY_A}" in refused.output
    assert not (tmp_path / "new" / "hookline.db").exists()

    restored = runner.invoke(main, ["restore", str(tmp_path / "copy.db")], env=env | {
        "HOOKLINE_DATABASE_URL": elsewhere["HOOKLINE_DATABASE_URL"]})  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert "4 pending delivery(ies) will be attempted" in restored.output
    again = runner.invoke(main, ["restore", str(tmp_path / "copy.db")], env=env | {
        "HOOKLINE_DATABASE_URL": elsewhere["HOOKLINE_DATABASE_URL"]})  # fmt: skip
    assert again.exit_code == 1
    assert "pass --force" in again.output
