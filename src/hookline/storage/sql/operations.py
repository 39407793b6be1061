"""The rest of Svix's operations on the log, and the background jobs over applications
(purging every payload, usage figures, the event types applications listen to)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hookline.domain import ids, jobs
from hookline.domain.models import BackgroundTask, Message, Page
from hookline.errors import NotFoundError
from hookline.storage.records import (
    END_OF_TIME,
    AttemptCounts,
    Cursor,
    MessageDestination,
    PublishResult,
)
from hookline.storage.sql._core import HIGHEST, Connection, as_tuple, dumps, page, reads, writes
from hookline.storage.sql.fanout import delivery_rows, parse_payload
from hookline.storage.sql.messages import MessageOps, svix_status
from hookline.storage.sql.params import message_params
from hookline.storage.sql.rows import endpoint_from_row

#: What a job's batch did: its data as it now stands, its new place, and whether it is done.
BatchResult = tuple[dict[str, Any], jobs.JobParams, bool]


def id_window(prefix: str, since: float, until: float) -> tuple[str, str]:
    """Ids of ``prefix`` made in [since, until) lie in the returned [low, high) (ids sort
    by time); an open end is the highest possible id."""
    high = HIGHEST if until >= END_OF_TIME else ids.floor_id(prefix, until)
    return ids.floor_id(prefix, since), high


class OperationOps(MessageOps):
    """Figures, destinations, examples and expunging; the jobs over applications."""

    @reads
    def attempt_counts(
        self, conn: Connection, app_id: str, endpoint_id: str, since: float, until: float
    ) -> AttemptCounts:
        endpoint = self.get_endpoint(conn, app_id, endpoint_id)
        low, high = id_window(ids.ATTEMPT, since, until)
        row = self._one(
            conn, "attempt_counts", {"endpoint_id": endpoint.id, "low": low, "high": high}
        )
        assert row is not None  # an aggregate always answers one row
        return AttemptCounts(success=int(row["success"]), fail=int(row["fail"]))

    @reads
    def list_destinations(
        self, conn: Connection, app_id: str, msg_id: str, cursor: Cursor
    ) -> Page[MessageDestination]:
        message = self.get_message(conn, app_id, msg_id)
        found = self._list(
            conn, "list_destinations", cursor, default_ascending=True, msg_id=message.id
        )
        rows = [
            MessageDestination(
                endpoint=endpoint_from_row(r, self.secret_box),
                status=svix_status(r["delivery_status"], r["lease_owner"]),
                next_attempt_at=r["next_attempt_at"],
            )
            for r in found
        ]
        return page(rows, cursor.limit, lambda d: d.endpoint.id, cursor)

    @writes
    def publish_to_endpoint(
        self, conn: Connection, message: Message, endpoint_id: str
    ) -> PublishResult:
        app = self._one(conn, "publish_application", {"key": message.app_id})
        if app is None:
            raise NotFoundError(f"application {message.app_id!r} not found")
        message = replace(message, app_id=app["id"])
        endpoint = self.get_endpoint(conn, message.app_id, endpoint_id)
        targets = [t for t in self._route_targets(conn, message.app_id) if t.id == endpoint.id]
        conn.execute(self.q("insert_message"), message_params(message))
        body = parse_payload(message.payload) if targets[0].controls.ordering else None
        rows = delivery_rows(message, targets, body)
        self._insert_deliveries(conn, rows, targets, message.created_at)
        return PublishResult(message=message, deliveries=len(rows))

    @writes
    def expunge_messages(
        self, conn: Connection, app_id: str, keys: Sequence[str]
    ) -> dict[str, bool]:
        found = self._all(conn, "message_ids_by_keys", {"app_id": app_id, "keys": dumps(keys)})
        named = {r["id"] for r in found} | {r["event_id"] for r in found if r["event_id"]}
        message_ids = dumps(sorted({r["id"] for r in found}))
        if found:
            conn.execute(self.q("expunge_messages"), {"ids": message_ids, "empty": b"{}"})
            conn.execute(self.q("expunge_attempt_bodies"), {"ids": message_ids})
        return {key: key in named for key in keys}

    @writes
    def expunge_attempt_content(
        self, conn: Connection, app_id: str, msg_id: str, attempt_id: str
    ) -> None:
        attempt = self.get_attempt(conn, app_id, msg_id, attempt_id)  # or NotFoundError
        conn.execute(
            self.q("expunge_attempt_content"),
            {"app_id": app_id, "msg_id": attempt.msg_id, "id": attempt.id},
        )

    # The jobs over applications: a batch each, run by ``JobOps.run_job_batch``.

    def _application_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams, now: float
    ) -> BatchResult:
        """One batch of a job over applications, with its data as it now stands."""
        if task.task == jobs.PURGE_CONTENT:
            return self._purge_batch(conn, task, params)
        if task.task == jobs.APP_STATS:
            return self._app_stats_batch(conn, task, params)
        return self._event_types_batch(conn, task, params)

    def _purge_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams
    ) -> BatchResult:
        where = {"app_id": task.app_id, "after_id": params.after[1], "limit": jobs.BATCH}
        found = [r["id"] for r in self._all(conn, "purge_candidates", where)]
        data = dict(task.data)
        if not found:
            return data, params, True
        conn.execute(self.q("expunge_messages"), {"ids": dumps(found), "empty": b"{}"})
        conn.execute(self.q("expunge_attempt_bodies"), {"ids": dumps(found)})
        data["messagesPurged"] = int(data.get("messagesPurged", 0)) + len(found)
        return data, replace(params, after=(0.0, found[-1])), len(found) < jobs.BATCH

    def _applications(self, conn: Connection, params: jobs.JobParams) -> list[Any]:
        named = params.extra.get("app_ids")
        return self._all(
            conn, "applications_after",
            {"after_id": params.after[1], "app_ids": dumps(named), "limit": jobs.BATCH},
        )  # fmt: skip

    def _app_stats_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams
    ) -> BatchResult:
        apps = self._applications(conn, params)
        low, high = id_window(ids.MESSAGE, params.since, params.until)
        stats = list(task.data.get("appStats", []))
        for app in apps:
            row = self._one(
                conn, "message_destinations", {"app_id": app["id"], "low": low, "high": high}
            )
            count = 0 if row is None else int(row["destinations"])
            stats.append({"appId": app["id"], "appUid": app["uid"], "messageDestinations": count})
        data = {**task.data, "appStats": stats}
        if not apps:
            return data, params, True
        return data, replace(params, after=(0.0, apps[-1]["id"])), len(apps) < jobs.BATCH

    def _event_types_batch(
        self, conn: Connection, task: BackgroundTask, params: jobs.JobParams
    ) -> BatchResult:
        apps = self._applications(conn, params)
        found = self._all(conn, "endpoint_event_types", {"app_ids": dumps([a["id"] for a in apps])})
        listened: dict[str, set[str]] = {}
        catch_all: set[str] = set()
        for row in found:
            types = as_tuple(row["filter_types"])
            listened.setdefault(row["app_id"], set()).update(types or ())
            if not types:  # no event types: the endpoint takes every type
                catch_all.add(row["app_id"])
        aggregated = list(task.data.get("event_types", []))
        for app in apps:
            if app["id"] in listened:  # applications with endpoints only
                aggregated.append(
                    {
                        "appId": app["id"],
                        "explicitlySubscribedEventTypes": sorted(listened[app["id"]]),
                        "hasCatchAllEndpoint": app["id"] in catch_all,
                    }
                )
        data = {**task.data, "event_types": aggregated}
        if not apps:
            return data, params, True
        return data, replace(params, after=(0.0, apps[-1]["id"])), len(apps) < jobs.BATCH
