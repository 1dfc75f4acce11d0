"""A Redis Stream sink for decision records, capped in length.

Contract: each batch is one pipelined round trip of `XADD key MAXLEN maxlen * line
<json>`. Exact trimming: once full, each XADD evicts the oldest entry, so the cap is
what the operator wrote (approximate `~` trimming evicts only whole 100-entry nodes,
which would let a small cap be exceeded many times over). It runs in the decision log's worker thread,
so it uses redis-py's synchronous client with short timeouts; a failure loses that
batch for this sink only (the writer counts and logs it).
"""

from __future__ import annotations

import redis

from authgate.config.schema import RedisStreamConfig

_TIMEOUT = 2.0


class RedisStreamSink:
    def __init__(self, config: RedisStreamConfig) -> None:
        self._key = config.key
        self._maxlen = config.maxlen
        self._client = redis.Redis.from_url(
            config.url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
        )

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._client.pipeline(transaction=False) as pipe:
            for line in lines:
                pipe.xadd(self._key, {"line": line}, maxlen=self._maxlen, approximate=False)
            pipe.execute()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStreamSink({self._key!r})"
