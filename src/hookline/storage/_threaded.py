"""The async face of the SQL backends, made from the synchronous operations.

``SqlOperations`` marks each port operation ``@reads``, ``@writes`` or
``@writes(urgent=True)`` (``storage/sql/_core.py``). For each, ``ThreadedSqlStorage``
gets an async method of the same name and signature (without the connection) that
runs the operation on a thread of the backend's: ``_read`` in a transaction that only
reads, ``_write`` in one that may change data (``urgent``: a worker's claims, which a
single writer runs ahead of the writes queued beside them). The event loop never
blocks on the database, and adding an operation means writing it once.

mypy sees these methods through the ports: ``storage_from_url`` hands out the backends
as ``Storage``, and tests/unit/test_storage_ports.py proves that every port
method has an implementation with the port's signature on every backend.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from hookline.storage.records import RekeyResult
from hookline.storage.sql import ACCESS, READ, URGENT, SqlOperations

T = TypeVar("T")

#: Full passes a re-key makes at most while rows keep changing under it.
REKEY_PASSES = 3


def _snapshot(value: Any) -> Any:
    """A list or dict argument copied on the event loop's thread before a database thread
    reads it: the caller's own may change meanwhile (a worker's in-flight counts do)."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _async_face(name: str, operation: Callable[..., Any]) -> Callable[..., Any]:
    """The async method running ``SqlOperations.<name>`` as its mark says."""
    access = getattr(operation, ACCESS)
    urgent = access == URGENT

    async def call(self: ThreadedSqlStorage, *args: Any, **kwargs: Any) -> Any:
        run = getattr(self.ops, name)
        if kwargs:
            run = functools.partial(run, **{key: _snapshot(v) for key, v in kwargs.items()})
        values = [_snapshot(arg) for arg in args]
        if access == READ:
            return await self._read(run, *values)
        return await self._write(run, *values, urgent=urgent)

    # What inspect (and the port test) sees: the operation's signature, less ``conn``.
    signature = inspect.signature(operation, eval_str=True)
    parameters = list(signature.parameters.values())
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[parameters[0], *parameters[2:]]
    )
    call.__name__ = name
    call.__qualname__ = f"ThreadedSqlStorage.{name}"
    call.__doc__ = operation.__doc__
    return call


class ThreadedSqlStorage:
    """Every storage port over ``SqlOperations``; subclasses supply threads and transactions."""

    ops: SqlOperations

    async def _write(self, run: Callable[..., T], *args: Any, urgent: bool = False) -> T:
        """Run ``run(conn, *args)`` in a write transaction. ``urgent`` (a worker's claims)
        asks a backend with a single writer to run it ahead of writes queued beside it."""
        raise NotImplementedError

    async def _read(self, run: Callable[..., T], *args: Any) -> T:
        """Run ``run(conn, *args)`` in a transaction that only reads."""
        raise NotImplementedError

    async def rekey_secrets(self, batch_size: int = 500) -> RekeyResult:
        """Re-seal every secret under the sealing key, a page per write transaction."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        rewritten = skipped = 0
        # Endpoints (signing secrets, then credentials), then inbound sources (receiving
        # tokens and secrets).
        pages = (self.ops.rekey_page, self.ops.rekey_auth_page, self.ops.rekey_source_page)
        for rekey_page in pages:
            for _ in range(REKEY_PASSES):
                changed = 0
                after = ""
                while True:
                    page = await self._write(rekey_page, after, batch_size)
                    rewritten += page.rewritten
                    changed += page.changed
                    if page.scanned < batch_size:
                        break
                    after = page.last_id
                if not changed:
                    break
            skipped += changed
        return RekeyResult(rewritten=rewritten, skipped=skipped)


for _name, _operation in inspect.getmembers(SqlOperations, inspect.isfunction):
    if hasattr(_operation, ACCESS) and not hasattr(ThreadedSqlStorage, _name):
        setattr(ThreadedSqlStorage, _name, _async_face(_name, _operation))
