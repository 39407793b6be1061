"""storage/wake.py on real sockets: a wake-up reaches every listener on the database but
the sender's own, slots are shared out, and another user's datagrams wake nobody."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from hookline.storage import wake

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


async def _woken(listener_wakes: list[int], index: int, timeout: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if listener_wakes[index]:
            return True
        await asyncio.sleep(0.005)
    return False


async def test_a_send_wakes_every_other_listener_and_not_the_senders_own(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "hookline.db")
    loop = asyncio.get_running_loop()
    wakes = [0, 0]
    first = wake.WakeListener(path, loop, lambda: wakes.__setitem__(0, wakes[0] + 1))
    second = wake.WakeListener(path, loop, lambda: wakes.__setitem__(1, wakes[1] + 1))
    other_database = wake.WakeListener(str(tmp_path / "other.db"), loop, lambda: None)
    sender = wake.WakeSender(path)
    try:
        assert first.address == wake.address(path, 0)
        assert second.address == wake.address(path, 1)
        assert other_database.address == wake.address(str(tmp_path / "other.db"), 0)
        sender.own = first.address
        sender.send()
        assert await _woken(wakes, 1)
        await asyncio.sleep(0.05)
        assert wakes == [0, 1]
    finally:
        for part in (first, second, other_database, sender):
            part.close()


async def test_a_listener_without_a_free_slot_listens_to_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "hookline.db")
    loop = asyncio.get_running_loop()
    listeners = [wake.WakeListener(path, loop, lambda: None) for _ in range(wake.SLOTS + 1)]
    try:
        assert [listener.address is not None for listener in listeners] == [True] * wake.SLOTS + [
            False
        ]
        sender = wake.WakeSender(path)
        sender.send()  # a full set of slots and one without: still no error
        sender.close()
    finally:
        for listener in listeners:
            listener.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to send as another user")
async def test_another_users_datagrams_wake_nobody(tmp_path: Path) -> None:
    path = str(tmp_path / "hookline.db")
    wakes = [0]
    listener = wake.WakeListener(
        path, asyncio.get_running_loop(), lambda: wakes.__setitem__(0, wakes[0] + 1)
    )
    try:
        pid = os.fork()
        if pid == 0:  # the child: become nobody, send, leave
            try:
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                    sock.sendto(b"", wake.address(path, 0))
            finally:
                os._exit(0)
        await asyncio.to_thread(os.waitpid, pid, 0)
        assert not await _woken(wakes, 0, timeout=0.3)
        sender = wake.WakeSender(path)
        sender.send()  # this user's wakes
        sender.close()
        assert await _woken(wakes, 0)
    finally:
        listener.close()
