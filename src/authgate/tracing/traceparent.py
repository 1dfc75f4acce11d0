"""W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/ §3.2), read and written.

Contract (pure: no OpenTelemetry import, table-tested in tests/tracing/test_traceparent.py):

* `parse_traceparent(values)` takes every `traceparent` field line received and
  returns `(trace_id, parent_id, flags)` as integers, or None when the header must be
  ignored — and the trace restarted (§4.3) — which is when:
  - there is not exactly one field line: a second one would be joined with a comma
    (RFC 9110 §5.3) into a value no version can parse, and which one a proxy honours
    differs between proxies;
  - the version is not two lowercase hex digits, or is `ff` (forbidden, §3.2.2.3);
  - version `00` is not exactly 55 characters; a later version is shorter than 55,
    or longer without a `-` right after the 55 it shares with `00` (§3.2.4: a vendor
    parses the fields it knows of a future version);
  - trace-id, parent-id or flags are not lowercase hex of their length (§3.2.2.4-6
    say lowercase; `A`-`F` is another vendor's bug, not a parent), or trace-id or
    parent-id is all zeros.
* `format_traceparent(trace_id, span_id, flags)` writes version 00.

Whether a parsed parent is believed at all is not decided here: only a trusted
proxy's is (`authgate.client_ip.trusted_peer`; docs/observability.md).
"""

from __future__ import annotations

from collections.abc import Sequence

_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2
_HEX = frozenset("0123456789abcdef")


def _hex(text: str) -> int | None:
    if not text or not _HEX.issuperset(text):
        return None
    return int(text, 16)


def parse_traceparent(values: Sequence[str]) -> tuple[int, int, int] | None:
    """The parent a `traceparent` header names; None when it must be ignored."""
    if len(values) != 1:
        return None
    value = values[0].strip(" \t")
    version = _hex(value[:2])
    if version is None or version == 0xFF or len(value) < _LENGTH:
        return None
    if version == 0 and len(value) != _LENGTH:
        return None
    if len(value) > _LENGTH and value[_LENGTH] != "-":
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id, parent_id, flags = _hex(value[3:35]), _hex(value[36:52]), _hex(value[53:55])
    if not trace_id or not parent_id or flags is None:  # None, or all zeros
        return None
    return trace_id, parent_id, flags


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """Version 00: the one version this gateway writes."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & 0xFF:02x}"
