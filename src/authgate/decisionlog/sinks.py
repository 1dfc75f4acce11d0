"""Where decision lines go: stdout, or a file that logrotate can rotate.

Contract: a `Sink` takes a batch of lines (each without its newline) and writes them,
one line each, in order. `DecisionLog` calls `write_lines` and `close` from a worker
thread (`asyncio.to_thread`), one call at a time, never concurrently, so a sink may
block on a slow disk without stalling the event loop and needs no locking of its own.
A sink may raise; the writer logs it and carries on with the other sinks.
`FileSink.reopen()` may be called from any thread (the SIGHUP handler after
logrotate moved the file); it takes a lock so a batch never straddles two files.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Protocol, TextIO

from authgate.config.schema import ChainConfig, DecisionLogConfig
from authgate.config.schema import Sink as SinkConfig

# Decision records name users and addresses: not world-readable (umask may narrow it).
_FILE_MODE = 0o640


class Sink(Protocol):
    """A destination for decision lines."""

    def write_lines(self, lines: list[str]) -> None:
        """Write each line followed by a newline, in order, and flush."""

    def close(self) -> None:
        """Flush and release the destination; no writes follow."""


def _batch_text(lines: list[str]) -> str:
    # One write call per batch: fewer syscalls, and lines of one batch stay together.
    return "\n".join(lines) + "\n"


class StdoutSink:
    """Lines to a text stream (default `sys.stdout`), flushed after every batch."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout

    def write_lines(self, lines: list[str]) -> None:
        if lines:
            self._stream.write(_batch_text(lines))
            self._stream.flush()

    def close(self) -> None:
        # The stream belongs to the process (or the caller); flush it, never close it.
        self._stream.flush()


def open_append(path: Path) -> TextIO:
    # "backslashreplace" is a last guard: a line that slipped past the encoder's
    # escaping is written mangled rather than failing the whole batch.
    return open(
        path,
        "a",
        encoding="utf-8",
        errors="backslashreplace",
        newline="\n",
        opener=lambda p, flags: os.open(p, flags, _FILE_MODE),
    )


class FileSink:
    """Lines appended to a file, created if missing, flushed after every batch."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # Opened now, so a bad path is an error at start, not on the first request.
        self._file: TextIO | None = open_append(self.path)

    def write_lines(self, lines: list[str]) -> None:
        with self._lock:
            if self._file is None:
                raise ValueError(f"decision log file {self.path} is closed")
            if lines:
                self._file.write(_batch_text(lines))
                self._file.flush()

    def reopen(self) -> None:
        """Close and reopen the path: after logrotate moved the old file away."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                # If the open below fails, writes fail loudly instead of hitting a closed file.
                self._file = None
            self._file = open_append(self.path)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _build_sink(entry: SinkConfig) -> Sink:
    if isinstance(entry, str) or entry.stdout:
        return StdoutSink()
    if entry.file is not None:
        return FileSink(entry.file)
    assert entry.redis_stream is not None  # the schema requires exactly one target
    from authgate.decisionlog.redis_stream import RedisStreamSink

    return RedisStreamSink(entry.redis_stream)


def _with_options(
    sink: Sink, entry: SinkConfig, config: DecisionLogConfig, state_dir: str | None
) -> Sink:
    if isinstance(entry, str):
        return sink
    if entry.chain is not None:
        # Innermost: the chain must cover the bytes written, after pseudonymization.
        sink = _chained(sink, entry.chain, state_dir)
    if not entry.pseudonymize:
        return sink
    from authgate.decisionlog.pseudonyms import Pseudonymizer, PseudonymizingSink

    assert config.pseudonym_key is not None  # the schema requires it with pseudonymize
    return PseudonymizingSink(sink, Pseudonymizer(config.pseudonym_key, entry.pseudonymize))


def _chained(sink: Sink, chain: ChainConfig, state_dir: str | None) -> Sink:
    from authgate.decisionlog.chain import ChainingSink, write_public_jwks
    from authgate.mutate.assertion_keys import AssertionKeys
    from authgate.ops.state_dir import AUDIT_KEY_FILE, state_file

    if chain.signing_keys is None and state_dir is None:
        raise ValueError("a chained decision log needs chain.signing_keys or server.state_dir")
    key_file = state_file(state_dir or "", chain.signing_keys, AUDIT_KEY_FILE)
    keys = AssertionKeys.load_or_create(key_file)
    write_public_jwks(keys, key_file)
    return ChainingSink(sink, keys, checkpoint_every=chain.checkpoint_every)


def build_sinks(config: DecisionLogConfig, state_dir: str | None = None) -> list[Sink]:
    """The sinks named in the config, in order; opens files (errors surface here).

    `state_dir` (server.state_dir) holds a chained sink's signing key by default.
    """
    sinks: list[Sink] = []
    try:
        for entry in config.sinks:
            sinks.append(_with_options(_build_sink(entry), entry, config, state_dir))
    except BaseException:
        for sink in sinks:  # do not leak the files opened before the one that failed
            sink.close()
        raise
    return sinks
