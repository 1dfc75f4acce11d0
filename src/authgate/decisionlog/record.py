"""One decision record: the line the decision log writes for every request.

Contract: a `DecisionRecord` is a frozen value built from the same `Decision` the proxy
enforced (STYLE.md lesson 1) plus the request facts. `to_json()` returns exactly one
line of JSON with no trailing newline: keys in a fixed order, time as RFC 3339 UTC with
milliseconds, durations as `{"<stage>_ms": 1.234}`. `identity` (who asked, as the
authenticator built it) stays in memory and is never written: the dashboard uses it to
explain the request again against the current config (`dashboard.explain_record`). Non-ASCII text is kept readable
(`ensure_ascii=False`), but nothing in the line can break it in two: JSON escapes
control characters (CR, LF), and we also escape U+0085, U+2028 and U+2029, which
`str.splitlines()` and some log shippers treat as line ends, and lone surrogates,
which cannot be encoded as UTF-8 (CWE-117, log injection).
This runs once per request, so it avoids `datetime` and builds one dict.
"""

from __future__ import annotations

import functools
import json
import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from authgate.decision import Decision, Outcome
from authgate.identity import Identity

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
# What _ENCODER writes for a str (the C encoder where CPython has it): one string literal.
_json_str: Callable[[str], str] = json.encoder.encode_basestring
_LINE_BREAKING = re.compile("[\u0085\u2028\u2029\ud800-\udfff]")


def rfc3339_millis(epoch: float) -> str:
    """`epoch` seconds as `2026-11-29T10:00:00.123Z` (UTC, milliseconds, rounded)."""
    seconds, millis = divmod(round(epoch * 1000), 1000)
    return f"{_second_prefix(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=8)
def _second_prefix(seconds: int) -> str:
    # Records arrive in time order, so one formatted second serves many records.
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(seconds))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _opt(value: str | None) -> str:
    return "null" if value is None else _json_str(value)


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and value - value == 0.0:  # finite: what json writes for it
        return float.__repr__(value)
    return _ENCODER.encode(value)  # NaN, infinities and int/float subclasses as json writes them


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ",".join(map(_json_str, values)) + "]" if values else "[]"


# `"<stage>_ms":` per stage name: a handful of names, one encoding each.
_DURATION_KEYS: dict[str, str] = {}


def _duration_key(stage: str) -> str:
    key = _json_str(f"{stage}_ms") + ":"
    if len(_DURATION_KEYS) < 64:  # stage names come from code; bounded all the same
        _DURATION_KEYS[stage] = key
    return key


def _durations(durations: tuple[tuple[str, float], ...]) -> str:
    keys = _DURATION_KEYS
    parts = []
    for stage, seconds in durations:  # a loop, not a generator: one or two stages
        ms = round(seconds * 1000, 3)
        number = float.__repr__(ms) if type(ms) is float and ms - ms == 0.0 else _number(ms)
        parts.append((keys.get(stage) or _duration_key(stage)) + number)
    return ",".join(parts)


def encode_line(fields: dict[str, object]) -> str:
    """`fields` as one JSON line that no line-splitting reader will cut."""
    line = _ENCODER.encode(fields)
    # isascii() is O(1) on CPython: the common all-ASCII line skips the scan.
    return line if line.isascii() else _LINE_BREAKING.sub(_escape, line)


@dataclass(frozen=True, slots=True)
class GrantNote:
    """The grant a record is about (docs/privileged-access.md): a grant event
    (`event` requested, approved, denied, activated, expired, revoked, break-glass),
    or `used` on a request decided under the grant. `actor` did it; `user`,
    `provider` and `subject` hold the grant."""

    id: str
    entitlement: str
    event: str
    actor: str | None = None
    user: str | None = None
    provider: str | None = None
    subject: str | None = None
    reason: str | None = None
    ticket: str | None = None
    route: str | None = None
    expires_at: float | None = None
    break_glass: bool = False

    def fields(self) -> dict[str, object]:
        return {
            "id": self.id, "event": self.event, "entitlement": self.entitlement,
            "actor": self.actor, "user": self.user, "provider": self.provider,
            "subject": self.subject, "reason": self.reason, "ticket": self.ticket,
            "route": self.route,
            "expires_at": None if self.expires_at is None else rfc3339_millis(self.expires_at),
            "break_glass": self.break_glass,
        }  # fmt: skip

    def to_json(self) -> str:
        # Off the common path (grant events, entitlement routes): the dict way.
        return _ENCODER.encode(self.fields())


class DecisionRecord(NamedTuple):
    """What happened to one request, who asked, from where, and why.

    A named tuple rather than a frozen dataclass: it is built once per request, and a
    frozen dataclass's `__init__` sets each of its two dozen fields through
    `object.__setattr__`, several times the cost of one tuple (bench/record_bench.py).
    Immutable all the same; equality leaves out `identity` (memory only, see the
    module doc)."""

    time: float
    request_id: str
    route: str | None
    method: str
    host: str
    path: str
    client_ip: str
    decision: Outcome
    reason: str
    rule: str | None
    status: int
    upstream_status: int | None
    durations: tuple[tuple[str, float], ...] = ()
    user: str | None = None
    provider: str | None = None
    country: str | None = None
    device: str | None = None
    risk: int | None = None
    signals: tuple[str, ...] = ()
    # Identity headers not sent because the route's header budget was exceeded.
    headers_dropped: tuple[str, ...] = ()
    return_url_rejected: bool = False
    stripped: tuple[str, ...] = ()  # client headers removed before forwarding
    grant: GrantNote | None = None  # privileged access: the grant it is about or used
    trace_id: str | None = None  # 32 hex digits when the request was traced
    # In memory only (see the module doc): not part of the line, nor of equality.
    # Keep it the last field: `__eq__` and `__hash__` compare everything before it.
    identity: Identity | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecisionRecord):
            return NotImplemented
        return self[:-1] == other[:-1]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self[:-1])

    def __repr__(self) -> str:
        # `identity` is not shown, as the dataclass did not (repr=False).
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields[:-1], self))
        return f"DecisionRecord({shown})"

    @classmethod
    def from_decision(
        cls,
        decision: Decision,
        *,
        time: float,
        request_id: str,
        method: str,
        host: str,
        path: str,
        client_ip: str,
        status: int,
        upstream_status: int | None = None,
        durations: tuple[tuple[str, float], ...] = (),
        user: str | None = None,
        provider: str | None = None,
        country: str | None = None,
        device: str | None = None,
        risk: int | None = None,
        signals: tuple[str, ...] = (),
        headers_dropped: tuple[str, ...] = (),
        return_url_rejected: bool = False,
        stripped: tuple[str, ...] = (),
        grant: GrantNote | None = None,
        trace_id: str | None = None,
        identity: Identity | None = None,
    ) -> DecisionRecord:
        """The record of `decision`; `status` is what the client actually received."""
        return _new_record(
            cls,
            (
                time, request_id, decision.route_id, method, host, path, client_ip,
                decision.outcome, decision.reason, decision.rule, status, upstream_status,
                durations, user, provider, country, device, risk, signals, headers_dropped,
                return_url_rejected, stripped, grant, trace_id, identity,
            ),
        )  # fmt: skip

    def to_json(self) -> str:
        """One JSON line (no trailing newline), keys in a stable order.

        Assembled field by field with the json module's own C string encoder, so the
        line is exactly what `encode_line` makes of the same fields as a dict
        (tests/test_decision_record_json.py checks that on generated records), at about
        a third of the cost: it runs once per request. One unpacking reads every field,
        and the common values (None, an empty tuple, an int) are written inline.
        """
        (
            time, request_id, route, method, host, path, client_ip, decision, reason, rule,
            status, upstream_status, durations, user, provider, country, device, risk,
            signals, headers_dropped, return_url_rejected, stripped, grant, trace_id, _,
        ) = self  # fmt: skip
        js = _json_str
        line = "".join(
            (
                '{"time":"', rfc3339_millis(time),
                '","request_id":', js(request_id),
                ',"trace_id":', "null" if trace_id is None else js(trace_id),
                ',"route":', "null" if route is None else js(route),
                ',"method":', js(method),
                ',"host":', js(host),
                ',"path":', js(path),
                ',"client_ip":', js(client_ip),
                ',"user":', "null" if user is None else js(user),
                ',"provider":', "null" if provider is None else js(provider),
                ',"country":', "null" if country is None else js(country),
                ',"device":', "null" if device is None else js(device),
                ',"decision":', js(decision),
                ',"reason":', js(reason),
                ',"rule":', "null" if rule is None else js(rule),
                ',"risk":', _number(risk),
                ',"signals":', _strings(signals) if signals else "[]",
                ',"status":', int.__repr__(status) if type(status) is int else _number(status),
                ',"upstream_status":', _number(upstream_status),
                ',"durations":{', _durations(durations),
                '},"headers_dropped":', _strings(headers_dropped) if headers_dropped else "[]",
                ',"return_url_rejected":', "true" if return_url_rejected else "false",
                ',"stripped":', _strings(stripped) if stripped else "[]",
                ',"grant":', "null" if grant is None else grant.to_json(), "}",
            )
        )  # fmt: skip
        # isascii() is O(1) on CPython: the common all-ASCII line skips the scan.
        return line if line.isascii() else _LINE_BREAKING.sub(_escape, line)


# One C call: the record's fields in declaration order (what `from_decision` passes).
_new_record: Callable[[type[DecisionRecord], tuple[object, ...]], DecisionRecord] = tuple.__new__
