"""How much framing a chunked request body may carry besides its data (RFC 9112 §7.1.1).

Contract: one `ChunkBudget` per chunked request body. The client protocol adds the
raw bytes llhttp consumed while parsing that body (`consumed`) and counts the chunk
headers it reported (`chunk`, from httptools' `on_chunk_header`); `exceeded(decoded)`
is true once the framing — chunk-size lines with their extensions, CRLFs, the
trailer section — is more than `PER_CHUNK` bytes a chunk plus `EXTENSIONS` for the
whole request beyond the `decoded` body bytes. The request is then refused 400
`request-invalid` and the connection closed.

Why: httptools reports no chunk extensions (llhttp skips them, and its callbacks for
them are not exposed), so `5;` followed by megabytes of extension would otherwise
stream through while the body limit counts 5 bytes (the `chunk-ext-long` row of
tests/dataplane/test_smuggling.py). RFC 9112 §7.1.1: "A server ought to limit the
total length of chunk extensions received in a request to an amount reasonable for
the services provided ... and generate an appropriate 4xx (Client Error) response if
that amount is exceeded." The bound is per request, as the RFC says (hyper's
CHUNKED_EXTENSIONS_LIMIT is 16 KiB per body); Node's answer to CVE-2024-22019
(`kMaxChunkExtensionsSize`, 16 KiB, src/node_http_parser.cc) resets per chunk,
which still lets a client send 16 KiB of extension with every byte of data. No
legitimate client sends extensions at all; `PER_CHUNK` is room for a chunk's own
framing (up to 16 hex digits of size and two CRLFs: 20 bytes), so a body of
one-byte chunks is never refused for its framing.

The protocol feeds llhttp at most `SLICE` bytes at a time while a chunked body (or a
head that may start one) is being parsed, and checks after each slice that the body
did not finish in; a request can therefore end with up to one slice more framing
than the bound before it is checked — bounded, never the megabytes it was.
Pure module: no I/O.
"""

from __future__ import annotations

EXTENSIONS = 16 * 1024  # extension and trailer bytes a request may carry in all
PER_CHUNK = 32  # a chunk's own framing: its size in hex, CRLF, and the CRLF after its data
SLICE = 16 * 1024  # the most llhttp is fed at once while a chunked body is parsed
HEAD_SLICE = 1024  # ... and while a head is, so a body begun in the same read is counted


class ChunkBudget:
    """The framing bytes one chunked body has used, against its bound."""

    __slots__ = ("raw", "chunks")

    def __init__(self) -> None:
        self.raw = 0  # bytes consumed while parsing the body, framing included
        self.chunks = 0  # chunk headers seen (the last, zero-size chunk included)

    def consumed(self, raw: int) -> None:
        self.raw += raw

    def chunk(self) -> None:
        self.chunks += 1

    def exceeded(self, decoded: int) -> bool:
        """More framing than the bound allows for `decoded` body bytes so far."""
        return self.raw - decoded > EXTENSIONS + PER_CHUNK * self.chunks


def slice_size(head: bool, budget: ChunkBudget | None, available: int) -> int:
    """How much of `available` bytes to feed llhttp at once: while a `head` is being
    parsed (it may begin a chunked body), a chunked body whose `budget` counts, or
    anything else (all of it)."""
    if head:
        return HEAD_SLICE
    return SLICE if budget is not None else available
