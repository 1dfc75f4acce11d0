"""The stored form of a user's history: one flat map of text fields, for both stores.

Contract: a user's history is a map of fields (a Redis hash, or a dict in memory):

    loc           `at|country|lat|lon|accuracy` — the last allowed location
    rec           when `record_allowed` last wrote (epoch seconds)
    d:<device>    when that device was last seen
    c:<country>   when that country was last seen
    a:<session>   `until|code,code` — signals a step-up acknowledged for that session
                  (keyed by `session_hash`), valid until `until`

`history_from_fields` reads it back as `History`, ignoring entries older than the
TTL, acknowledgements past their end, and any field it cannot parse (a damaged
field is "unknown", never an error). `prune` is the pruning the Redis store's Lua
script does, in Python, for the memory store: both stores answer alike because they
store alike. Failed logins live in a separate two-field map (`n`, `since`): a fixed
window that starts at the first failure. Pure module.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass

from authgate.risk.model import History, Location
from authgate.risk.signal import Signal

LOCATION, RECORDED = "loc", "rec"
DEVICE, COUNTRY, ACK = "d:", "c:", "a:"
_CODES = {s.value: s for s in Signal}


@dataclass(frozen=True, slots=True)
class Limits:
    ttl: float
    max_devices: int
    max_countries: int
    max_acknowledgements: int = 16


def session_hash(session_id: str) -> str:
    """A session's key in the history: hashed, so a store dump holds no session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def _text(value: float | None) -> str:
    return "" if value is None else repr(value)


def encode_location(location: Location) -> str:
    values = (location.latitude, location.longitude, location.accuracy_km)
    return "|".join([repr(location.at), location.country or "", *map(_text, values)])


def decode_location(text: str) -> Location | None:
    parts = text.split("|")
    if len(parts) != 5:
        return None
    at, lat, lon, acc = (number(p) for p in (parts[0], *parts[2:]))
    if at is None:
        return None
    return Location(at, parts[1] or None, lat, lon, acc)


def encode_ack(signals: Iterable[Signal], until: float) -> str:
    return f"{until!r}|{','.join(sorted(s.value for s in signals))}"


def decode_ack(text: str) -> tuple[float, frozenset[Signal]] | None:
    until, _, codes = text.partition("|")
    end = number(until)
    if end is None:
        return None
    return end, frozenset(_CODES[c] for c in codes.split(",") if c in _CODES)


def number(text: str) -> float | None:
    """A finite float from stored text, or None."""
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def history_from_fields(
    fields: Mapping[str, str], now: float, ttl: float, session: str | None = None
) -> History:
    """The `History` in a stored map, as seen at `now` (see the module docstring)."""
    oldest = now - ttl
    location = decode_location(fields.get(LOCATION, ""))
    if location is not None and location.at < oldest:
        location = None
    return History(
        last_location=location,
        devices=_recent(fields, DEVICE, oldest),
        countries=_recent(fields, COUNTRY, oldest),
        acknowledged=_acknowledged(fields, session, now),
        recorded_at=_since(number(fields.get(RECORDED, "")), oldest),
    )


def _since(when: float | None, oldest: float) -> float | None:
    return when if when is not None and when >= oldest else None


def _recent(fields: Mapping[str, str], prefix: str, oldest: float) -> frozenset[str]:
    return frozenset(
        name[len(prefix) :]
        for name, value in fields.items()
        if name.startswith(prefix) and _since(number(value), oldest) is not None
    )


def _acknowledged(fields: Mapping[str, str], session: str | None, now: float) -> frozenset[Signal]:
    ack = decode_ack(fields.get(ACK + session, "")) if session else None
    return ack[1] if ack is not None and ack[0] > now else frozenset()


def allowed_fields(location: Location | None, device_id: str | None, now: float) -> dict[str, str]:
    """The fields one allowed request writes (its country and device become known)."""
    fields = {RECORDED: repr(now)}
    if location is not None:
        fields[LOCATION] = encode_location(location)
        if location.country:
            fields[COUNTRY + location.country] = repr(now)
    if device_id:
        fields[DEVICE + device_id] = repr(now)
    return fields


def prune(fields: MutableMapping[str, str], now: float, limits: Limits) -> None:
    """Drop what is past the TTL or its end, then the least recent over each cap."""
    oldest = now - limits.ttl
    groups: dict[str, list[tuple[float, str]]] = {DEVICE: [], COUNTRY: [], ACK: []}
    for name, value in list(fields.items()):
        prefix = name[:2]
        if prefix not in groups:
            continue
        when = number(value.partition("|")[0])  # a last-seen time, or an ack's end
        expired = when is None or (when <= now if prefix == ACK else when < oldest)
        if expired:
            del fields[name]
        else:
            groups[prefix].append((when or 0.0, name))
    caps = {
        DEVICE: limits.max_devices,
        COUNTRY: limits.max_countries,
        ACK: limits.max_acknowledgements,
    }
    for prefix, entries in groups.items():
        for _, name in sorted(entries)[: max(0, len(entries) - caps[prefix])]:
            del fields[name]


def failed_count(count: float | None, since: float | None, now: float, window: float) -> int:
    """Failures in the window that started at `since`, or 0 once it has passed."""
    if count is None or since is None or now - since >= window:
        return 0
    return int(count)
