"""Pseudonymization of decision records, per sink, with a keyed hash.

Contract: `Pseudonymizer(key, fields)` replaces the named fields of each JSON line by
`p:` + the first 16 bytes (hex) of HMAC-SHA256(key, value). A keyed hash, not a plain
one: an IPv4 address space or a list of staff emails is small enough to invert an
unkeyed hash by enumeration (GDPR art. 4(5) pseudonymization, EDPB guidance). The same
key gives the same pseudonym, so one person's records still line up; rotating the key
unlinks them. `PseudonymizingSink` applies it in front of any sink (in the writer's
worker thread, never on the request path).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

from authgate.decisionlog.sinks import Sink


class Pseudonymizer:
    def __init__(self, key: str, fields: Sequence[str]) -> None:
        self._key = key.encode()
        self._fields = tuple(fields)

    def pseudonym(self, value: str) -> str:
        return "p:" + hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def line(self, line: str) -> str:
        record = json.loads(line)
        for name in self._fields:
            value = record.get(name)
            if isinstance(value, str) and value:
                record[name] = self.pseudonym(value)
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class PseudonymizingSink:
    def __init__(self, inner: Sink, pseudonymizer: Pseudonymizer) -> None:
        self._inner = inner
        self._pseudonymizer = pseudonymizer

    def write_lines(self, lines: list[str]) -> None:
        self._inner.write_lines([self._pseudonymizer.line(line) for line in lines])

    def reopen(self) -> None:
        reopen = getattr(self._inner, "reopen", None)
        if reopen is not None:
            reopen()

    def checkpoint(self) -> None:
        checkpoint = getattr(self._inner, "checkpoint", None)  # a chained file behind it
        if checkpoint is not None:
            checkpoint()

    def close(self) -> None:
        self._inner.close()

    def __repr__(self) -> str:
        return f"PseudonymizingSink({self._inner!r})"
