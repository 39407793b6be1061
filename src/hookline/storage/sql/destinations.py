"""Polling destinations: reading the message log through a poller's filters, and the
positions its consumers keep.

A poller gets no deliveries (fan-out skips it): it reads the stored messages, so there
is no second copy of them. A read walks the application's messages by id on the
``(app_id, id)`` index, a window at a time, keeping those the poller's event types and
channels take, until it has ``limit`` of them, has scanned ``MAX_SCAN`` messages, or
reaches the newest settled one. Its iterator is the last id it scanned (not the last it
returned), so messages filtered out are never scanned again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hookline.domain import routing
from hookline.domain.models import AttemptStatus, Message
from hookline.storage.records import DestinationHealth, MessagePoll, PollQuery
from hookline.storage.sql._core import Connection, Row, SqlBase, as_tuple, loads, reads, writes
from hookline.storage.sql.rows import message_from_row

#: Messages read per window of a poll.
SCAN_WINDOW = 500
#: Messages one poll scans at most, however few of them match: a poller with a narrow
#: filter gets a short (or empty) page with ``done`` false, and reads on from there.
MAX_SCAN = 5000
#: A destination's failure reason is looked for among its latest attempts only.
RECENT_ATTEMPTS = 100


class DestinationOps(SqlBase):
    """Polls of the message log, and the positions of pollers' consumers."""

    @reads
    def poll_messages(self, conn: Connection, poll: PollQuery) -> MessagePoll:
        """Read the messages ``poll`` asks for (after ``poll.after``, else ``poll.start``)."""
        return self._poll(conn, poll, poll.after or poll.start)

    @writes
    def consumer_poll(
        self, conn: Connection, endpoint_id: str, consumer_id: str, poll: PollQuery, now: float
    ) -> MessagePoll:
        """Read on for the consumer ``consumer_id`` of a poller and keep where it got to.

        It reads after ``poll.after`` when given, else after its stored position, else
        from ``poll.start``; the answer's iterator becomes its position, in the same
        transaction as the read.
        """
        after = poll.after or self._position(conn, endpoint_id, consumer_id) or poll.start
        found = self._poll(conn, poll, after)
        self._set_position(conn, endpoint_id, consumer_id, found.iterator, now)
        return found

    @writes
    def seek_consumer(
        self, conn: Connection, endpoint_id: str, consumer_id: str, position: str, now: float
    ) -> None:
        """Move the consumer's position: its next read starts after ``position``."""
        self._set_position(conn, endpoint_id, consumer_id, position, now)

    @reads
    def consumer_position(self, conn: Connection, endpoint_id: str, consumer_id: str) -> str | None:
        """Where the consumer's next read starts after (None: it has not read yet)."""
        return self._position(conn, endpoint_id, consumer_id)

    @reads
    def destination_health(
        self, conn: Connection, endpoint_ids: Sequence[str]
    ) -> dict[str, DestinationHealth]:
        """Each destination's failure reason and next retry time (``DestinationHealth``).

        The reason is that of the newest failed attempt among its last
        ``RECENT_ATTEMPTS``, kept while no success is newer or a retry is still due:
        a destination that failed once long ago and works now has none.
        """
        found = {}
        for endpoint_id in endpoint_ids:
            row = self._one(conn, "next_retry", {"endpoint_id": endpoint_id})
            due = None if row is None else row["next_retry_at"]
            retry = None if due is None else float(due)
            params = {"endpoint_id": endpoint_id, "limit": RECENT_ATTEMPTS}
            recent = self._all(conn, "destination_recent_attempts", params)
            reason = _failure_reason(recent, retry is not None)
            found[endpoint_id] = DestinationHealth(reason, retry)
        return found

    def _position(self, conn: Connection, endpoint_id: str, consumer_id: str) -> str | None:
        row = self._one(
            conn, "consumer_position", {"endpoint_id": endpoint_id, "consumer_id": consumer_id}
        )
        return None if row is None else str(row["position"])

    def _set_position(
        self, conn: Connection, endpoint_id: str, consumer_id: str, position: str, now: float
    ) -> None:
        params = {
            "endpoint_id": endpoint_id, "consumer_id": consumer_id, "position": position,
            "now": now,
        }  # fmt: skip
        conn.execute(self.q("set_consumer_position"), params)

    def _poll(self, conn: Connection, poll: PollQuery, after: str) -> MessagePoll:
        found: list[Message] = []
        scanned = 0
        while True:
            # One row more than the page still needs: when every row matches (no
            # filter), a full page also says whether anything follows, without a
            # second query and without reading rows the next page reads again.
            wanted = poll.limit - len(found) + 1
            window = min(SCAN_WINDOW, MAX_SCAN - scanned, wanted)
            params = {"app_id": poll.app_id, "after": after, "before": poll.before,
                      "limit": window}  # fmt: skip
            rows = self._all(conn, "poll_messages", params)
            for index, row in enumerate(rows):
                scanned += 1
                after = row["id"]
                if _matches(poll, row["event_type"], as_tuple(row["channels"])):
                    message = message_from_row(row)
                    headers = loads(row["headers"])
                    found.append(_with_headers(message, headers))
                    if len(found) == poll.limit:
                        # The page is full: done only if nothing settled follows it.
                        if index + 1 < len(rows):
                            return MessagePoll(found, after, False)
                        return MessagePoll(found, after, not self._more(conn, poll, after))
            if len(rows) < window:
                return MessagePoll(found, after, True)
            if scanned >= MAX_SCAN:
                return MessagePoll(found, after, False)

    def _more(self, conn: Connection, poll: PollQuery, after: str) -> bool:
        params = {"app_id": poll.app_id, "after": after, "before": poll.before, "limit": 1}
        return bool(self._all(conn, "poll_messages", params))


def _matches(poll: PollQuery, event_type: str, channels: tuple[str, ...] | None) -> bool:
    if poll.event_type is not None and event_type != poll.event_type:
        return False
    if poll.channel is not None and poll.channel not in (channels or ()):
        return False
    return routing.matches_event_type(poll.event_types, event_type) and routing.matches_channels(
        poll.channels, channels
    )


def _failure_reason(recent: Sequence[Row], retrying: bool) -> str | None:
    """The reason of the newest failed attempt in ``recent`` (newest first), unless a
    success came after it and nothing is waiting for a retry."""
    for row in recent:
        if row["status"] == AttemptStatus.SUCCESS and not retrying:
            return None
        if row["status"] == AttemptStatus.FAIL:
            return _reason(row)
    return None


def _reason(row: Row) -> str:
    # A broker or database's reason already says what it answered; an HTTP answer is
    # its status and the start of its body.
    text = str(row["response"] or "")
    code = int(row["response_status_code"] or 0)
    if row["error_class"] is not None or not code:
        return text or str(row["error_class"] or "failed")
    return f"HTTP {code}: {text[:200]}" if text else f"HTTP {code}"


def _with_headers(message: Message, headers: dict[str, str] | None) -> Message:
    return message if not headers else replace(message, headers=headers)
