"""Turn pydantic's validation errors into problems an operator can act on.

Contract: `report_validation_error(error, data, source)` reports one problem per wrong
spot to `source`, on the line of the key (or of the mapping that lacks a required
key), with the key path the user wrote and a message in the user's words.

pydantic's `loc` mixes the user's keys with its own markers: union members
(`literal['stdout']`, `FileSink`, `str`, `list[str]`) and validator wrappers
(`function-after[...]`). A loc entry is kept only when it is really in the data: a
key present in the mapping at that point, a list index, or the final key of a
`missing` error. When a union fails, pydantic reports every member; the member that
got furthest into the value is the one the user meant (a mapping given where a
string or a `FileSink` is allowed was meant as a `FileSink`), so shallower member
errors are dropped, and members failing at the same spot are merged into one
"must be A or B" message. Spots already reported by an earlier stage (an unset
environment variable, an unreadable secret file) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from authgate.config.errors import KeyPath
from authgate.config.yaml_source import Data, Source

# pydantic error type -> what the value must be, for type and choice errors.
_MUST_BE = {
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


@dataclass(frozen=True)
class _Found:
    path: KeyPath
    message: str
    got: str | None  # the value given, shown for type/choice errors only
    in_union: bool  # a union member marker was dropped from the loc


def report_validation_error(error: ValidationError, data: Data, source: Source) -> None:
    """Report every error in `error` (raised validating `data`) to `source`."""
    found = [_convert(details, data) for details in error.errors()]
    for item in _merge_same_spot(_prefer_deepest_member(found)):
        if not source.covers(item.path):
            source.report(item.path, _with_got(item))


def _convert(details: ErrorDetails, data: Data) -> _Found:
    path, in_union = _user_path(details["loc"], data, details["type"] == "missing")
    message, got = _describe(details)
    return _Found(path, message, got, in_union)


def _user_path(loc: tuple[int | str, ...], data: Data, missing: bool) -> tuple[KeyPath, bool]:
    path: list[str | int] = []
    dropped = False
    node: Any = data
    for position, entry in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict) and entry in node:
            node = node[entry]
        elif isinstance(node, list) and isinstance(entry, int) and 0 <= entry < len(node):
            node = node[entry]
        elif not (last and missing and isinstance(node, dict)):
            dropped = True
            continue
        path.append(entry)
    return tuple(path), dropped


def _describe(details: ErrorDetails) -> tuple[str, str | None]:
    kind, message = details["type"], details["msg"]
    ctx = details.get("ctx") or {}
    if kind == "missing":
        return "missing required key", None
    if kind == "extra_forbidden":
        return "unknown key", None
    if kind.startswith("url_"):
        detail = ctx.get("error") or message
        return f"not a URL: {details['input']!r} ({detail})", None
    if kind in _MUST_BE:
        return f"must be {_MUST_BE[kind]}", _show(details["input"])
    if kind == "literal_error":
        return f"must be {ctx['expected']}", _show(details["input"])
    if kind == "string_pattern_mismatch":
        # The value is not echoed: it may be a secret.
        return f"must match the pattern {ctx['pattern']}", None
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return _lower_first(message.replace("Input should be ", "must be ", 1)), None


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return repr(value)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _prefer_deepest_member(found: list[_Found]) -> list[_Found]:
    """Drop union-member errors at a spot where another member got further in."""
    deeper = {
        item.path[:end]
        for item in found
        if item.in_union
        for end in range(len(item.path))
    }
    return [item for item in found if not (item.in_union and item.path in deeper)]


def _merge_same_spot(found: Iterable[_Found]) -> list[_Found]:
    """One entry per path; union members' "must be" messages become "must be A or B"."""
    merged: dict[KeyPath, _Found] = {}
    for item in found:
        before = merged.get(item.path)
        if before is None:
            merged[item.path] = item
        elif item.message != before.message:
            merged[item.path] = _Found(
                item.path, _join(before.message, item.message), before.got, before.in_union
            )
    return list(merged.values())


def _join(first: str, second: str) -> str:
    if first.startswith("must be ") and second.startswith("must be "):
        return f"{first} or {second.removeprefix('must be ')}"
    return f"{first}; {second}"


def _with_got(item: _Found) -> str:
    return item.message if item.got is None else f"{item.message}, got {item.got}"
