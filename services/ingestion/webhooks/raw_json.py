"""Reading a JSON delivery while keeping the exact bytes of its parts: a batch is split into its
events as the PIM wrote them (Akeneo's PHP ``json_encode`` escapes ``\\/`` and ``\\uXXXX``, which a
re-serialisation would change), never re-encoded."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from services.ingestion.webhooks import invalid

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
T = TypeVar("T")


@dataclass(frozen=True)
class RawValue:
    """A decoded JSON value and its exact bytes in the delivery; an array asked for element by
    element also has its ``elements``."""

    value: object
    raw: bytes
    elements: tuple[RawValue, ...] = ()


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr] - matches the empty string


def _decode(text: str, index: int, path: str) -> tuple[object, int]:
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as error:
        raise invalid(path, f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise invalid(path, "is nested too deeply") from None


def _text(body: bytes, path: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(path, "is not valid UTF-8") from None


def _expect(text: str, index: int, allowed: str, path: str) -> str:
    found = text[index : index + 1]
    if not found or found not in allowed:
        shown = repr(found) if found else "the end"
        raise invalid(path, f"is not valid JSON: expected one of {' '.join(allowed)} but found {shown}")
    return found


def _members(text: str, index: int, path: str, arrays: frozenset[str] = frozenset()) -> tuple[dict[str, RawValue], int]:
    """The members of the object starting at ``index`` (after whitespace) and the index past it;
    the arrays named in ``arrays`` are read element by element."""
    if text[index : index + 1] != "{":
        _decode(text, index, path)  # a JSON error names what is wrong, else it is valid but not an object
        raise invalid(path, "must be a JSON object")
    members: dict[str, RawValue] = {}
    index = _skip(text, index + 1)
    if text[index : index + 1] == "}":
        return members, index + 1
    while True:
        _expect(text, index, '"', path)
        key, index = _decode(text, index, path)
        assert isinstance(key, str)  # it started with a quote
        index = _skip(text, index)
        _expect(text, index, ":", path)
        start = _skip(text, index + 1)
        member_path = key if path == "body" else f"{path}.{key}"
        if key in arrays and text[start : start + 1] == "[":
            elements, index = _elements(text, start, member_path)
            value = [e.value for e in elements]
            members[key] = RawValue(value, text[start:index].encode(), tuple(elements))
        else:
            value, index = _decode(text, start, member_path)
            members[key] = RawValue(value, text[start:index].encode())
        index = _skip(text, index)
        if _expect(text, index, ",}", path) == "}":
            return members, index + 1
        index = _skip(text, index + 1)


def _elements(text: str, index: int, path: str) -> tuple[list[RawValue], int]:
    if text[index : index + 1] != "[":
        raise invalid(path, "must be a JSON array")
    elements: list[RawValue] = []
    index = _skip(text, index + 1)
    if text[index : index + 1] == "]":
        return elements, index + 1
    while True:
        start = index
        value, index = _decode(text, start, f"{path}[{len(elements)}]")
        elements.append(RawValue(value, text[start:index].encode()))
        index = _skip(text, index)
        if _expect(text, index, ",]", path) == "]":
            return elements, index + 1
        index = _skip(text, index + 1)


def _whole(text: str, parse: Callable[[str, int, str], tuple[T, int]], path: str) -> T:
    """Apply one of the walkers above to the whole text, which must hold nothing else."""
    value, end = parse(text, _skip(text, 0), path)
    if _skip(text, end) != len(text):
        raise invalid(path, "is not valid JSON: extra data after the value")
    return value


def parse_object(body: bytes) -> dict[str, object]:
    """The JSON object ``body`` when its parts' bytes are not needed (one event per delivery)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        object_members(body)  # raises the error naming where the JSON is wrong
        raise
    if not isinstance(document, dict):
        raise invalid("body", "must be a JSON object")
    return document


def object_members(body: bytes, path: str = "body", arrays: frozenset[str] = frozenset()) -> dict[str, RawValue]:
    """The members of the JSON object ``body``, each with its exact bytes, the arrays named in
    ``arrays`` with their elements' bytes too (read once). Raises InvalidDelivery."""
    return _whole(_text(body, path), lambda text, index, where: _members(text, index, where, arrays), path)


def array_elements(raw: bytes, path: str) -> list[RawValue]:
    """The elements of the JSON array ``raw`` (a member's bytes), each with its exact bytes."""
    return _whole(_text(raw, path), _elements, path)
