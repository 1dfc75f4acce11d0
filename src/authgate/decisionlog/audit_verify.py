"""`authgate audit verify`: prove a chained decision log whole, or name the first break.

Contract: `verify_logs(paths, jwks, live=False)` reads the files in the order given
(rotated files oldest first, then the current one) and answers a `Verdict`: `ok`, the
counts, and for a broken log the *first* problem with its file, line number and
stream — a record deleted, inserted, moved (reordered), changed, a checkpoint whose
signature fails, a stream whose head is missing, or a stream cut short. The chain
format is chain.py's; the rules, per stream:

* A stream's first line in the files is a signed checkpoint of kind `start` (seq 0)
  or `rotated` (a file logrotate opened): anything else means its head was cut.
* Then `seq` counts up by one and `prev` is the hash of the stream's previous line.
  A line whose `prev` fails says the previous line was changed — unless this line is
  a copy of an earlier position (inserted). A `seq` jump is a deletion when the
  missing seq never appears, a move when it appears later.
* A checkpoint's JWS verifies with a published key (`kid`) and its claims equal the
  line's own stream, seq, prev, time and kind.
* Every stream ends with its `final` checkpoint (written when the gateway stops). A
  stream that does not was cut — or its gateway is still running or crashed: with
  `live=True` that is not a failure, and the lines after the last checkpoint are
  reported as unsigned (they could have been cut or rewritten without a trace).

A line that is not JSON, or carries no chain fields, is a failure (changed or
inserted). Nothing here trusts the log: sizes are bounded by reading line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from authgate.decisionlog.chain import CHECKPOINT_EVENT, GENESIS, checkpoint_claims, line_hash

_ALGORITHMS = ["ES256"]  # the only algorithm chain.py signs with; never "none"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    stream: str | None
    what: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.what}" + (f" (stream {self.stream})" if self.stream else "")


@dataclass(slots=True)
class Verdict:
    ok: bool = True
    records: int = 0
    checkpoints: int = 0
    streams: int = 0
    problem: Problem | None = None
    # live=True only: per stream, lines after its last checkpoint (no signature covers them).
    unsigned_tails: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    seq: int
    prev: str  # hash of the stream's last line
    before_prev: str  # hash of the line before that (to tell an insertion)
    last_file: str
    last_line: int
    since_checkpoint: int = 0
    final: bool = False


@dataclass(frozen=True, slots=True)
class _Line:
    file: str
    number: int
    text: str
    fields: dict[str, Any] | None


class Keys:
    """The published verification keys, by `kid` (a JWKS: `{"keys": [...]}`)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._by_kid: dict[str, Any] = {}
        for entry in jwks.get("keys", []):
            key = jwt.PyJWK(entry, algorithm="ES256")
            self._by_kid[str(entry.get("kid"))] = key.key

    def verify(self, kid: str, token: str) -> dict[str, Any] | None:
        """The signed claims, or None when the kid is unknown or the signature fails."""
        key = self._by_kid.get(kid)
        if key is None:
            return None
        try:
            payload = jwt.api_jws.decode(token, key, algorithms=_ALGORITHMS)
            claims = json.loads(payload)
        except (jwt.InvalidTokenError, ValueError):
            return None
        return claims if isinstance(claims, dict) else None


def _lines(paths: Iterable[Path]) -> Iterator[_Line]:
    for path in paths:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.removesuffix("\n")
                if not text:
                    continue
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
                yield _Line(str(path), number, text, parsed if isinstance(parsed, dict) else None)


def _chain_fields(fields: dict[str, Any]) -> tuple[str, int, str] | None:
    stream, seq, prev = fields.get("stream"), fields.get("seq"), fields.get("prev")
    if isinstance(stream, str) and type(seq) is int and isinstance(prev, str):
        return stream, seq, prev
    return None


def _seen_positions(lines: list[_Line]) -> dict[tuple[str, int], int]:
    """(stream, seq) -> index of its first line: tells a move from a deletion."""
    positions: dict[tuple[str, int], int] = {}
    for index, line in enumerate(lines):
        chain = _chain_fields(line.fields) if line.fields is not None else None
        if chain is not None:
            positions.setdefault((chain[0], chain[1]), index)
    return positions


def verify_logs(paths: Iterable[Path], jwks: Mapping[str, Any], *, live: bool = False) -> Verdict:
    keys = Keys(jwks)
    lines = list(_lines(paths))
    positions = _seen_positions(lines)
    streams: dict[str, _Stream] = {}
    verdict = Verdict()

    def fail(line: _Line, stream: str | None, what: str, at: tuple[str, int] | None = None) -> Verdict:
        verdict.ok = False
        file, number = at if at is not None else (line.file, line.number)
        verdict.problem = Problem(file, number, stream, what)
        verdict.streams = len(streams)
        return verdict

    for index, line in enumerate(lines):
        if line.fields is None:
            return fail(line, None, "not a JSON object: the line was changed")
        chain = _chain_fields(line.fields)
        if chain is None:
            return fail(line, None, "no chain fields (stream, seq, prev): a line was inserted")
        name, seq, prev = chain
        state = streams.get(name)
        is_checkpoint = line.fields.get("event") == CHECKPOINT_EVENT
        if state is None:
            if not (is_checkpoint and line.fields.get("kind") in ("start", "rotated")):
                return fail(line, name, f"the stream's head is missing: it begins at seq {seq} "
                                        "without a start or rotation checkpoint")
            if line.fields.get("kind") == "start" and (seq != 0 or prev != GENESIS):
                return fail(line, name, "a start checkpoint that is not at seq 0")
        else:
            previous = (state.last_file, state.last_line)
            if state.final:
                return fail(line, name, "a line after the stream's final checkpoint: inserted")
            if seq == state.seq and prev == state.before_prev:
                # This line continues the chain from before the previous line, which
                # claims the same seq: the previous line is the one that was added.
                return fail(line, name, f"a line was inserted (a second seq {seq})", previous)
            expected = state.seq + 1
            if seq != expected:
                return fail(line, name, _gap(positions, index, name, seq, expected, state))
            if prev != state.prev:
                return fail(line, name, f"the line (seq {state.seq}) was changed: the next "
                                        f"line of its stream, line {line.number}, does not "
                                        "chain to it", previous)
        if is_checkpoint:
            problem = _check_signature(keys, line, name, seq, prev)
            if problem:
                return fail(line, name, problem)
            verdict.checkpoints += 1
        else:
            verdict.records += 1
        current = line_hash(line.text)
        if state is None:
            state = streams[name] = _Stream(seq, current, prev, line.file, line.number)
        else:
            state.seq, state.before_prev, state.prev = seq, state.prev, current
            state.last_file, state.last_line = line.file, line.number
        state.since_checkpoint = 0 if is_checkpoint else state.since_checkpoint + 1
        state.final = is_checkpoint and line.fields.get("kind") == "final"

    verdict.streams = len(streams)
    for name, state in streams.items():
        if state.final:
            continue
        if not live:
            verdict.ok = False
            verdict.problem = Problem(
                state.last_file, state.last_line, name,
                f"the stream ends at seq {state.seq} without its final checkpoint: its tail "
                "was cut (or the gateway is still running or crashed: --live)",
            )
            return verdict
        if state.since_checkpoint:
            verdict.unsigned_tails[name] = state.since_checkpoint
    return verdict


def _gap(
    positions: dict[tuple[str, int], int], index: int, name: str, seq: int, expected: int,
    state: _Stream,
) -> str:
    later = positions.get((name, expected))
    if seq < expected:
        return (f"seq {seq} again after seq {state.seq}: a line was inserted or moved")
    if later is not None and later > index:
        return f"seq {seq} where seq {expected} was expected: lines were reordered"
    missing = seq - expected
    return (f"seq {seq} where seq {expected} was expected: {missing} record"
            f"{'s' if missing != 1 else ''} deleted after line {state.last_line}")


def _check_signature(keys: Keys, line: _Line, name: str, seq: int, prev: str) -> str | None:
    assert line.fields is not None
    kid, token = line.fields.get("kid"), line.fields.get("jws")
    if not isinstance(kid, str) or not isinstance(token, str):
        return "a checkpoint without kid and jws: changed"
    claims = keys.verify(kid, token)
    if claims is None:
        return f"the checkpoint's signature does not verify with key {kid!r}"
    at, kind = line.fields.get("time"), line.fields.get("kind")
    if not isinstance(at, str) or not isinstance(kind, str):
        return "a checkpoint without time and kind: changed"
    if claims != checkpoint_claims(name, seq, prev, at, kind):
        return "the checkpoint's signed claims differ from the line: changed"
    return None


def load_jwks(path: Path) -> dict[str, Any]:
    """A JWKS file (`<key file>.jwks.json`), or the PEM key bundle itself."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        loaded = json.loads(data)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: not a JWKS object")
        return loaded
    from authgate.mutate.assertion_keys import AssertionKeys

    return AssertionKeys.load(path).jwks()
