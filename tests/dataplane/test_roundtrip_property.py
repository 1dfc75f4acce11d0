"""Property: a request the gateway accepts reaches the upstream as sent, its path normalized.

Hypothesis writes requests byte for byte (raw sockets, tests/hardening/rawconn.py):
a method from the safe set, a path of printable segments with percent-escapes and dot
segments, a query or none, and a body of up to 64 KiB framed by Content-Length, by
chunks of any size, or not at all. For each, the gateway either

* answers the upstream's 200, and the upstream (tests/dataplane/recording_upstream.py)
  received the same method, the route's upstream base path joined to
  `normalize_path(path)` (docs/architecture.md, docs/path-normalization.md), the query
  exactly as sent and the same body bytes, in one well-framed request; or
* refuses it with its own 400 and a decision record, the upstream receiving nothing.

Which one is predicted where it can be: a path of RFC 3986 `pchar`s and escapes is a
valid origin-form (RFC 9112 §3.2.1), so only `normalize_path` may refuse it
(`path-invalid`, e.g. `%2F` or invalid UTF-8). A path holding characters a
request-target may not carry raw (`"`, `{`, `é` ...) may be refused by the parser
instead — or accepted with those characters percent-encoded as `normalize_path` does.
"""

from __future__ import annotations

import asyncio
import random
import string
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from authgate.routing import PathRejected, normalize_path
from tests.dataplane.conftest import BASE_PATH
from tests.dataplane.front_ends import depart_on_aiohttp
from tests.dataplane.recording_upstream import RecordingUpstream
from tests.hardening.rawconn import Answer, assert_refused_record, connect
from tests.testbed.gateway import Gateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BASES = {"echo.test": "", "based.test": BASE_PATH}  # conftest's routes
# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
PCHAR = string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;=" + ":@"
LOOSE = "\"<>[]^`{|}\\é"  # not allowed raw in a request-target (RFC 9112 §3.2)
MAX_BODY = 64 * 1024
EXAMPLES = 150


@dataclass(frozen=True)
class Sent:
    method: str
    host: str
    path: str
    query: str | None  # None: no `?` at all
    body: bytes
    framing: str  # "none" (no body fields), "length" or "chunked"
    chunk: int  # the chunk size when chunked

    @property
    def target(self) -> str:
        return self.path if self.query is None else f"{self.path}?{self.query}"

    def wire(self) -> bytes:
        head = f"{self.method} {self.target} HTTP/1.1\r\nHost: {self.host}\r\n"
        head += "Accept: application/json\r\nConnection: close\r\n"
        if self.framing == "length":
            return f"{head}Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body
        if self.framing == "chunked":
            return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + self.chunked()
        return f"{head}\r\n".encode()

    def chunked(self) -> bytes:
        pieces = [self.body[i : i + self.chunk] for i in range(0, len(self.body), self.chunk)]
        return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def _escapes(data: bytes) -> str:
    return "".join(f"%{byte:02X}" for byte in data)


# A segment: dot segments (plain and escaped), empty (a `//`), or a run of pchars,
# escapes (some of them invalid UTF-8 or an encoded `/`) and, rarely, loose characters.
_atom = st.one_of(
    st.text(alphabet=PCHAR, min_size=1, max_size=6),
    st.sampled_from(["%41", "%7e", "%2E", "%c3%a9", "%E6%97%A5", "%20", "%3B", "%25", "%2F"]),
    st.binary(min_size=1, max_size=2).map(_escapes),
    st.sampled_from(LOOSE),
)
_segment = st.one_of(
    st.sampled_from(["", ".", "..", "%2e", "%2E%2e", ".%2E"]),
    st.lists(_atom, min_size=1, max_size=3).map("".join),
)
_path = st.lists(_segment, max_size=6).map(lambda segments: "/" + "/".join(segments))
# Never "" here: an empty query has its own test below.
_query = st.none() | st.text(alphabet=PCHAR + "/?%", min_size=1, max_size=24)


# Large bodies from a seed: cheap to draw, still any byte anywhere.
_large = st.builds(
    lambda seed, size: random.Random(seed).randbytes(size),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=301, max_value=MAX_BODY),
)


@st.composite
def requests(draw: st.DrawFn) -> Sent:
    body = draw(st.just(b"") | st.binary(max_size=300) | _large)
    framing = draw(st.sampled_from(["length", "chunked"] + ([] if body else ["none"])))
    return Sent(
        method=draw(st.sampled_from(METHODS)),
        host=draw(st.sampled_from(sorted(BASES))),
        path=draw(_path),
        query=draw(_query),
        body=body,
        framing=framing,
        chunk=draw(st.integers(min_value=1, max_value=MAX_BODY)),
    )


def expected_path(sent: Sent) -> str | None:
    """What the upstream must get as its path; None: the gateway must refuse it."""
    try:
        return BASES[sent.host] + normalize_path(sent.path)
    except PathRejected:
        return None


async def exchange(port: int, data: bytes) -> Answer:
    conn = await connect(port)
    try:
        await conn.send(data)
        return await conn.answer()
    finally:
        conn.close()
        await conn.writer.wait_closed()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=requests())
@example(Sent("POST", "based.test", "/x/%2e%2E/y/./%7e", "q=%zz&&a=/?", bytes(range(256)) * 4, "chunked", 7))
@example(Sent("PUT", "echo.test", "//caf%c3%a9/", None, b"\r\n0\r\n\r\n", "length", 1))
@example(Sent("DELETE", "based.test", "/a%2Fb", "x", b"", "none", 1))  # refused: encoded-slash
def test_what_is_accepted_reaches_the_upstream_as_sent(
    dataplane_gateway: Gateway, recording_upstream: RecordingUpstream, sent: Sent
) -> None:
    gateway, upstream = dataplane_gateway, recording_upstream
    upstream.reset()
    answer = asyncio.run(exchange(gateway.port, sent.wire()))
    path = expected_path(sent)
    strict = not any(char in LOOSE for char in sent.path)  # a valid origin-form
    event(f"{answer.status} {'strict' if strict else 'loose'} {sent.framing}")
    event(f"body {'empty' if not sent.body else '< 1 KiB' if len(sent.body) < 1024 else '>= 1 KiB'}")
    if answer.status == 400:
        assert path is None or not strict, answer.body  # refused what is valid: no
        reason = "path-invalid" if strict else str(answer.json()["reason"])
        request_id = answer.headers["x-request-id"]
        assert answer.json()["reason"] == reason
        assert_refused_record(gateway, request_id, 400, reason)
        assert upstream.heads == 0  # the answer came after any forward: nothing was sent
        return
    assert answer.status == 200, answer.body
    assert path is not None, "forwarded a path normalize_path refuses"
    received = upstream.requests
    assert len(received) == 1
    got = received[0]
    target = path if sent.query is None else f"{path}?{sent.query}"
    assert (got.method, got.target, got.body) == (sent.method, target, sent.body)
    # One framing towards the upstream (RFC 9112 §6.1: never both).
    assert not (got.header("Content-Length") and got.header("Transfer-Encoding")), got.head
    record = gateway.record(answer.headers["x-request-id"])
    # What was checked is what is served: the record's path is the one forwarded.
    assert (record["status"], BASES[sent.host] + record["path"]) == (200, path)


async def test_an_empty_query_keeps_its_question_mark(
    front_end: str,
    dataplane_gateway: Gateway,
    recording_upstream: RecordingUpstream,
    request: pytest.FixtureRequest,
) -> None:
    # RFC 3986 §6.2.3: a delimiter whose component is empty is not removed unless the
    # scheme says so, and RFC 9110 §4.2.3 does not: "/a?" is not "/a" for the upstream.
    depart_on_aiohttp(request, front_end, "forwards /a? as /a (an empty query is no query)")
    recording_upstream.reset()
    sent = Sent("GET", "based.test", "/a", "", b"", "none", 1)
    answer = await exchange(dataplane_gateway.port, sent.wire())
    assert answer.status == 200
    assert [r.target for r in recording_upstream.requests] == [f"{BASE_PATH}/a?"]
