"""The framing bound of a chunked request body, at its edges (RFC 9112 §7.1.1)."""

from __future__ import annotations

import pytest

from authgate.dataplane.chunk_budget import EXTENSIONS, PER_CHUNK, ChunkBudget


def budget(raw: int, chunks: int) -> ChunkBudget:
    counted = ChunkBudget()
    counted.consumed(raw)
    for _ in range(chunks):
        counted.chunk()
    return counted


@pytest.mark.parametrize(
    ("raw", "chunks", "decoded", "exceeded"),
    [
        (EXTENSIONS, 0, 0, False),  # a first chunk header still being read
        (EXTENSIONS + 1, 0, 0, True),
        (1000 + EXTENSIONS + 10 * PER_CHUNK, 10, 1000, False),
        (1000 + EXTENSIONS + 10 * PER_CHUNK + 1, 10, 1000, True),
        # 3000 one-byte chunks ("1\r\nx\r\n"): 5 bytes of framing each, never refused
        (3000 * 6 + 5, 3001, 3000, False),
    ],
)
def test_exceeded(raw: int, chunks: int, decoded: int, exceeded: bool) -> None:
    assert budget(raw, chunks).exceeded(decoded) is exceeded
