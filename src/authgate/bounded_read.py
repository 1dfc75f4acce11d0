"""Read a body whole, but no more of it than a bound.

Contract: `read_at_most(stream, limit)` answers the stream's bytes up to its end, or
its first `limit + 1` bytes when it is longer — so the caller refuses "more than
`limit`" without holding more. aiohttp's `StreamReader.read(n)` answers as soon as
some bytes are there, at most `n`: one call can return part of a body that arrived in
several segments, which would cut a token in two.
"""

from __future__ import annotations

import aiohttp


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while len(body) <= limit:
        chunk = await stream.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)
