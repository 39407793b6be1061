"""The storage ports: each signature written once, implemented alike by every backend.

The backends' port methods are made from their synchronous SQL operations
(``storage/_threaded.py``), which mypy cannot follow: this is what proves that
nothing drifts between a port and what runs behind it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from hookline.storage import ports
from hookline.storage.postgres import PostgresStorage
from hookline.storage.sql import ACCESS, READ, URGENT, WRITE, SqlOperations
from hookline.storage.sqlite import SqliteStorage

BACKENDS = [SqliteStorage, PostgresStorage]


def _methods(role: type) -> dict[str, Callable[..., Any]]:
    """The methods a role declares itself (not those it inherits from another role)."""
    return {
        name: value for name, value in vars(role).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }  # fmt: skip


#: The roles Storage is made of.
ROLES = [base for base in ports.Storage.__bases__ if base is not Protocol]
PORT_METHODS = sorted(name for role in ROLES for name in _methods(role))


def test_every_storage_method_belongs_to_exactly_one_role() -> None:
    """Storage is the roles together: no method of its own, none declared twice."""
    assert len(ROLES) == 13
    assert _methods(ports.Storage) == {}
    assert len(PORT_METHODS) == len(set(PORT_METHODS))
    declared = {n for n in dir(ports.Storage) if not n.startswith("_")}
    assert declared == set(PORT_METHODS)


def test_the_delivery_queue_role_keeps_its_methods() -> None:
    """The worker's role is the queue's eight-odd methods and nothing else."""
    assert set(_methods(ports.DeliveryQueue)) == {
        "claim", "claim_batch", "start_probes", "release", "record", "next_due", "wait_for_work",
    }  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("name", PORT_METHODS)
def test_every_port_method_has_an_implementation_with_its_signature(
    backend: type, name: str
) -> None:
    """Each backend implements each port method as a coroutine with the port's signature."""
    port = getattr(ports.Storage, name)
    implementation = getattr(backend, name, None)
    assert implementation is not None, f"{backend.__name__} lacks {name}"
    assert inspect.iscoroutinefunction(implementation)
    expected = inspect.signature(port, eval_str=True)
    found = inspect.signature(implementation, eval_str=True)
    assert found == expected, f"{backend.__name__}.{name}{found} is not {name}{expected}"


def test_every_marked_operation_is_a_port_method() -> None:
    """An operation marked @reads or @writes is a port's method (no face without a port)."""
    marked = {
        name: getattr(operation, ACCESS)
        for name, operation in inspect.getmembers(SqlOperations, inspect.isfunction)
        if hasattr(operation, ACCESS)
    }
    assert set(marked) <= set(PORT_METHODS)
    assert set(marked.values()) == {READ, WRITE, URGENT}


def test_only_the_worker_claims_are_urgent_writes() -> None:
    """claim and claim_batch, and nothing else, ask the single writer to go first."""
    urgent = {
        name for name, operation in inspect.getmembers(SqlOperations, inspect.isfunction)
        if getattr(operation, ACCESS, None) == URGENT
    }  # fmt: skip
    assert urgent == {"claim", "claim_batch"}
