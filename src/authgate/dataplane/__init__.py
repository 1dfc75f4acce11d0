"""The gateway's own HTTP/1.1 data plane for proxied requests (`server.data_plane: native`).

An asyncio `Protocol` per client connection on the event loop's transports (uvloop),
httptools (llhttp, strict: no lenient flags) parsing requests and upstream responses,
and a keep-alive connection pool per upstream. The decision is the same as on the
aiohttp front end: `server.verdict.judge` on plain values.

* `protocol` — the client connection: parsing, timers (`conn.clock`), the per-peer cap,
  refusals, pipelining in order, one decision record per request.
* `relay` — one forwarded exchange: request head and body upstream, the answer back,
  both directions streamed with backpressure.
* `pool` — upstream connections, reused only after an exchange that completed.
* `framing` — pure: header filtering, heads, chunk encoding, answers to bytes.
* `handover` — the gateway's endpoints, pages and WebSockets stay on aiohttp: such a
  connection is handed to aiohttp's request handler, still behind llhttp.
* `server` — the protocol factory the listeners use; drain.
"""
