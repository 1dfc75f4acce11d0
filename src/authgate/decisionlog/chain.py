"""A tamper-evident file sink: every line chained to the one before, signed checkpoints.

Contract: `ChainingSink(inner, keys, ...)` sits directly in front of a file sink and
rewrites each line it is given (after any pseudonymization: the chain covers the bytes
on disk) by appending three fields before the closing brace:

* `stream` — this writer's chain, a random id chosen when the sink opens. Each worker
  process writes its own stream; several streams interleave in one file and are
  verified separately (`authgate audit verify`).
* `seq` — 0, 1, 2, … within the stream, no gaps.
* `prev` — base64url SHA-256 of the stream's previous line as written (without its
  newline); `GENESIS` for the first.

So an edited line breaks the next line's `prev`, a deleted one leaves a gap in `seq`,
an inserted one duplicates a `seq` or breaks `prev`, and a swapped pair runs `seq`
backwards. A plain hash chain alone does not stop someone who rewrites the whole tail
consistently, so the sink also writes *checkpoints*: chained lines of their own
(`event: audit-checkpoint`) whose `jws` is an ES256 compact JWS (RFC 7515, by pyjwt)
over `{stream, seq, prev, time, kind}`: the signature vouches for every line before
it. A checkpoint is written when the stream opens (`kind: start`), after a rotation
reopen (`kind: rotated`, so a rotated-to file starts at a signed point), every
`checkpoint_every` seconds while lines arrive, when the writer is idle and lines are
unsigned (`checkpoint()`), and when the sink closes (`kind: final`): a stream without
its final checkpoint either belongs to a gateway still running or had its tail cut.

The key is an assertion-style key bundle in the state folder (first key signs, every
key verifies, `kid` = RFC 7638 thumbprint; rotated with `authgate assertion-key
rotate`). Its public JWKS is written beside it (`<key file>.jwks.json`) for auditors.

Threading: like every sink, called from the decision log's worker thread one call at
a time; `reopen()` may come from the SIGHUP handler's thread, hence the lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jwt

from authgate.decisionlog.record import encode_line, rfc3339_millis
from authgate.decisionlog.sinks import Sink
from authgate.mutate.assertion_keys import ALGORITHM, AssertionKeys

CHECKPOINT_EVENT = "audit-checkpoint"
GENESIS = "0" * 43  # the `prev` of a stream's first line: no line hashes to it
CHECKPOINT_KINDS = ("start", "periodic", "idle", "rotated", "final")


def line_hash(line: str) -> str:
    """The `prev` the next line of the stream must carry: base64url(SHA-256(line))."""
    digest = hashlib.sha256(line.encode("utf-8", "backslashreplace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def checkpoint_claims(stream: str, seq: int, prev: str, at: str, kind: str) -> dict[str, object]:
    """What a checkpoint's signature covers; the verifier rebuilds it from the line."""
    return {"stream": stream, "seq": seq, "prev": prev, "time": at, "kind": kind}


def sign_checkpoint(keys: AssertionKeys, claims: dict[str, object]) -> str:
    key = keys.signing
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return jwt.api_jws.encode(
        payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "audit+jws"}
    )


def write_public_jwks(keys: AssertionKeys, key_file: Path) -> Path:
    """`<key file>.jwks.json`: the public keys an auditor verifies checkpoints with."""
    target = key_file.with_name(key_file.name + ".jwks.json")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(keys.jwks(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)  # readers never see half a file; workers race harmlessly
    return target


class ChainingSink:
    """Chains and checkpoints the lines written to `inner` (a file sink)."""

    def __init__(
        self,
        inner: Sink,
        keys: AssertionKeys,
        *,
        checkpoint_every: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inner = inner
        self._keys = keys
        self._every = checkpoint_every
        self._clock = clock
        self._lock = threading.Lock()
        # 96 random bits: two workers (or restarts) never share a stream id.
        self.stream = secrets.token_urlsafe(12)
        self._seq = 0
        self._prev = GENESIS
        self._unsigned = 0
        self._last_checkpoint = clock()
        self._closed = False
        self._inner.write_lines([self._checkpoint_line("start")])

    def _chained(self, line: str) -> str:
        # Every line the writer produces is one JSON object ending in "}" (record.py,
        # encode_line); the chain fields go last so the record's own keys keep their order.
        if not line.endswith("}"):
            raise ValueError("a chained line must be one JSON object")
        chained = (
            f'{line[:-1]}{"," if len(line) > 2 else ""}"stream":"{self.stream}",'
            f'"seq":{self._seq},"prev":"{self._prev}"}}'
        )
        self._seq += 1
        self._prev = line_hash(chained)
        return chained

    def _checkpoint_line(self, kind: str) -> str:
        now = self._clock()
        at = rfc3339_millis(now)
        claims = checkpoint_claims(self.stream, self._seq, self._prev, at, kind)
        fields: dict[str, object] = {
            "event": CHECKPOINT_EVENT,
            "time": at,
            "kind": kind,
            "kid": self._keys.signing.kid,
            "jws": sign_checkpoint(self._keys, claims),
        }
        self._last_checkpoint = now
        self._unsigned = 0
        return self._chained(encode_line(fields))

    def write_lines(self, lines: list[str]) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("chained decision log is closed")
            out = [self._chained(line) for line in lines]
            self._unsigned += len(out)
            if self._unsigned and self._clock() - self._last_checkpoint >= self._every:
                out.append(self._checkpoint_line("periodic"))
            if out:
                self._inner.write_lines(out)

    def checkpoint(self) -> None:
        """Sign what is unsigned now (the writer calls this when it goes idle)."""
        with self._lock:
            if self._unsigned and not self._closed:
                self._inner.write_lines([self._checkpoint_line("idle")])

    @property
    def checkpoint_every(self) -> float:
        return self._every

    def reopen(self) -> None:
        """After logrotate: the new file opens with a signed checkpoint of the stream."""
        with self._lock:
            reopen = getattr(self._inner, "reopen", None)
            if reopen is not None:
                reopen()
            if not self._closed:
                self._inner.write_lines([self._checkpoint_line("rotated")])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._inner.write_lines([self._checkpoint_line("final")])
                finally:
                    self._inner.close()

    def __repr__(self) -> str:
        return f"ChainingSink({self._inner!r}, stream={self.stream})"
