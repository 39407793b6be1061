"""Applying a compiled transformation: body, drop, rename, headers, without changing the payload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hookline.domain.transform._interpreter import _evaluate
from hookline.domain.transform._limits import (
    _MISSING,
    MAX_HEADER_VALUE_LENGTH,
    Path,
    TransformError,
    TransformLimits,
    TransformResult,
    _Budget,
    _EvalError,
    _Expressions,
    _header_value_problem,
    _json_size,
    _Moves,
    _Paths,
    _Segment,
)

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult


def _child(node: object, segment: _Segment) -> object:
    key, index = segment
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    if isinstance(node, list) and index is not None and index < len(node):
        return node[index]
    return _MISSING


def _dotted(segments: tuple[_Segment, ...]) -> str:
    return ".".join(key for key, _ in segments) or "the payload"


class _Editor:
    """Drops and moves fields of a result without changing any object it shares with
    the payload or with itself: containers on an edited path are copied once."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self._owned: list[object] = []  # keeps the copies alive so their ids stay theirs
        self._owned_ids: set[int] = set()

    def _own(self, container: Any) -> Any:
        if id(container) in self._owned_ids:
            return container
        copy = dict(container) if isinstance(container, dict) else list(container)
        self._owned.append(copy)
        self._owned_ids.add(id(copy))
        return copy

    def _writable(self, segments: tuple[_Segment, ...]) -> Any:
        """The container at ``segments`` (which must exist), made safe to change."""
        node = self.root = self._own(self.root)
        for key, index in segments:
            child = _child(node, (key, index))
            copy = self._own(child)
            if copy is not child:
                node[key if isinstance(node, dict) else index] = copy
            node = copy
        return node

    def pop(self, segments: tuple[_Segment, ...]) -> object:
        """Remove and return the value at ``segments``, or ``_MISSING``."""
        parent = self.root
        for segment in segments[:-1]:
            parent = _child(parent, segment)
        value = _child(parent, segments[-1])
        if value is not _MISSING:
            key, index = segments[-1]
            writable = self._writable(segments[:-1])
            del writable[key if isinstance(writable, dict) else index]
        return value

    def put(self, segments: tuple[_Segment, ...], value: object) -> None:
        """Set the value at ``segments``, creating missing objects on the way."""
        if not isinstance(self.root, (dict, list)):
            raise _EvalError("cannot write into the payload: it is not an object")
        node = self.root = self._own(self.root)
        for depth, segment in enumerate(segments):
            key, index = segment
            if isinstance(node, list) and (index is None or index >= len(node)):
                raise _EvalError(f"{_dotted(segments[:depth])} has no element {key}")
            slot = key if isinstance(node, dict) else index
            if depth == len(segments) - 1:
                node[slot] = value
                return
            child = _child(node, segment)
            if child is _MISSING:
                child = {}
                self._owned.append(child)
                self._owned_ids.add(id(child))
            elif isinstance(child, (dict, list)):
                child = self._own(child)
            else:
                where = _dotted(segments[: depth + 1])
                raise _EvalError(f"cannot write into {where}: it is not an object")
            node[slot] = child
            node = child


def _render_header(value: object, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        try:
            _json_size(value, MAX_HEADER_VALUE_LENGTH)
        except _EvalError as error:
            raise TransformError(path, str(error)) from None
        text = orjson.dumps(value).decode()
    else:
        raise TransformError(path, f"the expression gives an {_json_type(value)}, not a value")
    problem = _header_value_problem(text)
    if problem:
        raise TransformError(path, problem)
    return text


def _json_type(value: object) -> str:
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "value"


class Transformation:
    """A compiled transformation document; immutable, safe to share between tasks."""

    __slots__ = ("_body", "_drop", "_expressions", "_headers", "_limits", "_rename", "document")

    def __init__(
        self,
        document: dict[str, object],
        body: ParsedResult | None,
        drop: _Paths,
        rename: _Moves,
        headers: dict[str, str],
        expressions: _Expressions,
        limits: TransformLimits,
    ) -> None:
        #: The document as given (only its known fields), JSON-able.
        self.document = document
        self._body = body
        self._drop = drop
        self._rename = rename
        self._headers = headers
        self._expressions = expressions
        self._limits = limits

    def __repr__(self) -> str:
        return f"Transformation({self.document!r})"

    @property
    def reshapes(self) -> bool:
        """Whether the body can change (``body``, ``drop`` or ``rename`` is set)."""
        return self._body is not None or bool(self._drop) or bool(self._rename)

    def apply(self, payload: object, max_cost: int | None = None) -> TransformResult:
        """Transform a payload (a JSON value); raises ``TransformError``.

        ``max_cost`` lowers the cost budget for this run: past it, ``CostExceeded``
        (so a caller can try cheaply first, and pay for the full budget elsewhere).
        """
        value, headers = self._run(payload, from_json=False, max_cost=max_cost)
        return TransformResult(body=_dumps(value), value=value, headers=headers)

    def apply_bytes(self, payload: bytes, max_cost: int | None = None) -> TransformResult:
        """Transform a JSON payload given as bytes; raises ``TransformError``.

        When the document does not reshape the body, ``body`` is ``payload`` itself,
        byte for byte. ``max_cost`` as for ``apply``.
        """
        try:
            parsed = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise TransformError((), f"the payload is not valid JSON: {error}") from None
        value, headers = self._run(parsed, from_json=True, max_cost=max_cost)
        body = _dumps(value) if self.reshapes else bytes(payload)
        return TransformResult(body=body, value=value, headers=headers)

    def _run(
        self, payload: object, *, from_json: bool, max_cost: int | None = None
    ) -> tuple[object, dict[str, str]]:
        limits = self._limits
        budget = _Budget(limits.max_cost if max_cost is None else min(max_cost, limits.max_cost))
        value = payload
        if self._body is not None:
            value = _evaluate(self._body, payload, budget, limits.max_output_bytes, ("body",))
        if self._drop or self._rename:
            value = self._edit(value)
        if self._body is not None or not from_json:
            # Only ``body`` can make the output bigger than the payload.
            try:
                _json_size(value, limits.max_output_bytes)
            except _EvalError as error:
                raise TransformError(("body",) if self._body else (), str(error)) from None
        headers = dict(self._headers)
        for name, expression in self._expressions:
            path = ("headerExpressions", name)
            result = _evaluate(expression, payload, budget, limits.max_output_bytes, path)
            text = _render_header(result, path)
            if text is not None:
                headers[name] = text
        return value, headers

    def _edit(self, value: object) -> object:
        editor = _Editor(value)
        for segments in self._drop:
            editor.pop(segments)
        for source, segments, to in self._rename:
            moved = editor.pop(segments)
            if moved is _MISSING:
                continue
            try:
                editor.put(to, moved)
            except _EvalError as error:
                raise TransformError(("rename", source), str(error)) from None
        return editor.root


def _dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        raise TransformError((), f"the output cannot be written as JSON: {error}") from None
