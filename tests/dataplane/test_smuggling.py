"""Request smuggling and framing: the one table for the class (raw sockets, RFC 9112).

Each row is the exact bytes a client writes in one go on one keep-alive connection
and what must follow: the statuses of the answers in order, whether the gateway then
closes the connection, and what the upstream (tests/dataplane/recording_upstream.py,
a raw socket that counts every request) received — each whole request's target and
body, in order. A refusal is the gateway's own answer (JSON with a request id) with
one decision record; nothing of the refused request reaches the upstream. Where the
fault sits in a chunked body (`in_body`), the gateway may already have streamed the
head; the upstream then sees an aborted request, never a whole one.

A row that is accepted is followed, on the same connection, by a probe request: its
answer proves the gateway read the first request's end where the RFC puts it.

Where RFC 9112 lets a recipient choose (obs-fold, bare LF, duplicate equal lengths,
whitespace before the first field), the gateway takes the strict side: a proxy that
is lenient where its upstream is strict, or the other way round, is the smuggle.

The version refusals (HTTP/2.0, 1.2 ...) and the other parser refusals (methods,
request-line garbage, Host) stay in tests/hardening/test_parser_refusals.py; the
body limits in tests/hardening/test_body_limits.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tests.dataplane.front_ends import depart_on_aiohttp, depart_on_native
from tests.dataplane.recording_upstream import RecordingUpstream
from tests.hardening.rawconn import Answer, Conn, assert_refusal, assert_refused_record, connect
from tests.testbed.gateway import Gateway

CRLF = b"\r\n"
CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"
PROBE = b"GET /probe HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
INVALID = "request-invalid"
HOST = "host-invalid"


def req(*fields: bytes, body: bytes = b"", line: bytes = b"POST /s HTTP/1.1") -> bytes:
    """A request to the public route `echo.test`, its fields written as given."""
    head = line + CRLF + b"Host: echo.test\r\nAccept: application/json\r\n"
    return head + b"".join(field + CRLF for field in fields) + CRLF + body


def chunked(body: bytes) -> bytes:
    return req(b"Transfer-Encoding: chunked", body=body)


def absolute(target: bytes, *fields: bytes, host: bool = True) -> bytes:
    """A GET of absolute-form `target`; its Host fields `fields` (else `Host: echo.test`)."""
    hosts = fields or ((b"Host: echo.test",) if host else ())
    return b"GET " + target + b" HTTP/1.1\r\n" + b"".join(h + CRLF for h in hosts) + b"Accept: application/json\r\n\r\n"


FIRST = req(line=b"GET /first HTTP/1.1")  # a legitimate request, then something else
HANDED_OVER = req(line=b"GET /.authgate/logout HTTP/1.1")  # the gateway's own endpoint


@dataclass(frozen=True)
class Case:
    data: bytes
    statuses: tuple[int, ...] = (400,)
    reason: str | None = INVALID  # the refusal's reason (a last answer >= 400); None: any
    closed: bool = True  # the gateway closes after the last answer (else: a probe follows)
    forwarded: tuple[tuple[str, bytes], ...] = ()  # (target, body) of each whole request
    in_body: bool = False  # the fault is in the body: the head may have been streamed


def accepted(data: bytes, body: bytes = b"hello", target: str = "/s") -> Case:
    return Case(data, (200,), closed=False, forwarded=((target, body),))


def bad_chunks(body: bytes) -> Case:
    return Case(chunked(body), in_body=True)


def coding(*fields: bytes, status: int = 400, reason: str | None = INVALID) -> Case:
    """A chunked `hello` whose Transfer-Encoding fields are `fields`."""
    return Case(req(*fields, body=CHUNKED_HELLO), (status,), reason)


def length(*fields: bytes) -> Case:
    """A 5-byte body `hello` whose Content-Length fields are `fields`."""
    return Case(req(*fields, body=b"hello"))


def field(*fields: bytes) -> Case:
    """A GET with `fields` after Host and Accept."""
    return Case(req(*fields, line=b"GET /s HTTP/1.1"))


CASES: dict[str, Case] = {
    # --- Content-Length with Transfer-Encoding (RFC 9112 §6.1: a server MAY reject it
    # and MUST close after answering; §6.3 item 3: "ought to be handled as an error").
    "cl-te": Case(req(b"Content-Length: 6", b"Transfer-Encoding: chunked", body=b"0\r\n\r\nG")),
    "te-cl": Case(req(b"Transfer-Encoding: chunked", b"Content-Length: 3", body=b"8\r\nSMUGGLED\r\n0\r\n\r\n")),
    "cl-te-xchunked": Case(req(b"Content-Length: 5", b"Transfer-Encoding: xchunked", body=b"hello")),
    # §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing, CL or not
    # (nginx answers it 400 too).
    "te-in-http10": Case(req(b"Transfer-Encoding: chunked", body=CHUNKED_HELLO, line=b"POST /s HTTP/1.0")),
    "te-cl-in-http10": Case(
        req(b"Transfer-Encoding: chunked", b"Content-Length: 15", body=CHUNKED_HELLO, line=b"POST /s HTTP/1.0")
    ),
    # --- Transfer-Encoding itself (RFC 9112 §6.3 item 4: chunked present but not the
    # final coding -> MUST 400 and close; §6.1: a sender MUST NOT apply chunked twice;
    # §6.1: a coding the server does not understand SHOULD be 501; §7: coding names are
    # case-insensitive; §5.1: OWS around the value is not part of it).
    "te-xchunked": coding(b"Transfer-Encoding: xchunked"),
    "te-chunked-identity": coding(b"Transfer-Encoding: chunked, identity"),
    # 501 with any reason: the vocabulary has no code for an unknown transfer coding yet.
    # Decoding only the chunked layer and forwarding the rest as plain bytes would hand
    # the upstream gzip data it is not told about.
    "te-identity-chunked": coding(b"Transfer-Encoding: identity, chunked", status=501, reason=None),
    "te-gzip-chunked": coding(b"Transfer-Encoding: gzip, chunked", status=501, reason=None),
    "te-chunked-twice": coding(b"Transfer-Encoding: chunked, chunked"),
    "te-two-fields": coding(b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity"),
    "te-two-fields-chunked": coding(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"),
    "te-empty": coding(b"Transfer-Encoding: "),
    "te-quoted": coding(b'Transfer-Encoding: "chunked"'),
    "te-vertical-tab": coding(b"Transfer-Encoding:\x0bchunked"),
    "te-form-feed": coding(b"Transfer-Encoding:\x0cchunked"),
    "te-obs-fold": coding(b"Transfer-Encoding:\r\n chunked"),
    "te-space-before-colon": coding(b"Transfer-Encoding : chunked"),
    "te-double-colon": coding(b"Transfer-Encoding:: chunked"),  # the value is ": chunked"
    "te-leading-ows": accepted(req(b"Transfer-Encoding:  chunked", body=CHUNKED_HELLO)),
    "te-tab-ows": accepted(req(b"Transfer-Encoding:\tchunked", body=CHUNKED_HELLO)),
    "te-trailing-sp": accepted(req(b"Transfer-Encoding: chunked  ", body=CHUNKED_HELLO)),
    # llhttp, strict (aiohttp's parser too), refuses a trailing HTAB here, not a SP.
    "te-trailing-htab": accepted(req(b"Transfer-Encoding: chunked\t", body=CHUNKED_HELLO)),
    "te-uppercase": accepted(req(b"Transfer-Encoding: CHUNKED", body=CHUNKED_HELLO)),
    # --- Content-Length (RFC 9112 §6.3 item 5: an invalid one -> MUST 400 and close;
    # RFC 9110 §8.6: 1*DIGIT; a list of equal values MAY be rejected (it is); overflow
    # must not wrap).
    "cl-duplicate-same": length(b"Content-Length: 5", b"Content-Length: 5"),
    "cl-duplicate-different": length(b"Content-Length: 1", b"Content-Length: 5"),
    "cl-list-same": length(b"Content-Length: 5, 5"),
    "cl-list-different": length(b"Content-Length: 1, 5"),
    "cl-plus": length(b"Content-Length: +5"),
    "cl-minus": length(b"Content-Length: -1"),
    "cl-hex": length(b"Content-Length: 0x5"),
    "cl-inner-space": length(b"Content-Length: 5 5"),
    "cl-empty": length(b"Content-Length: "),
    "cl-huge": length(b"Content-Length: %d" % (2**64 + 5)),
    "cl-space-before-colon": length(b"Content-Length : 5"),
    "cl-double-colon": length(b"Content-Length:: 5"),
    "cl-leading-zeros": accepted(req(b"Content-Length: 005", body=b"hello")),
    "cl-ows": accepted(req(b"Content-Length: \t5 ", body=b"hello")),
    # --- chunked bodies (RFC 9112 §7.1: chunk = chunk-size [ext] CRLF data CRLF, the
    # size 1*HEXDIG — overflow must not wrap; §7.1.1: unknown extensions are ignored,
    # their total length limited with a 4xx; §2.2: bare LF or CR is no line end here).
    "chunk-size-overflow": bad_chunks(b"FFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-non-hex": bad_chunks(b"5g\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-0x": bad_chunks(b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-minus": bad_chunks(b"-5\r\nhello\r\n0\r\n\r\n"),
    "chunk-size-leading-space": bad_chunks(b" 5\r\nhello\r\n0\r\n\r\n"),
    "chunk-ext-bare-lf": bad_chunks(b"5;a\nhello\r\n0\r\n\r\n"),
    "chunk-ext-control": bad_chunks(b"5;a\x01b\r\nhello\r\n0\r\n\r\n"),
    "chunk-ext-long": bad_chunks(b"5;" + b"a" * 100_000 + b"\r\nhello\r\n0\r\n\r\n"),
    # The bound is the request's total (§7.1.1), not each chunk's: 300 chunks of 200
    # bytes of extension each are refused as one long one is.
    "chunk-ext-many": bad_chunks((b"1;" + b"a" * 200 + b"\r\nx\r\n") * 300 + b"0\r\n\r\n"),
    "chunk-trailer-long": bad_chunks(b"5\r\nhello\r\n0\r\nX-T: " + b"a" * 100_000 + b"\r\n\r\n"),
    "chunk-ext-some": accepted(chunked(b"5;" + b"a" * 4000 + b"\r\nhello\r\n0\r\n\r\n")),
    # A chunk's own framing is never counted against the bound: 3000 one-byte chunks.
    "chunk-one-byte-many": accepted(chunked(b"1\r\nx\r\n" * 3000 + b"0\r\n\r\n"), b"x" * 3000),
    "chunk-missing-crlf": bad_chunks(b"5\r\nhello0\r\n\r\n"),
    "chunk-data-too-long": bad_chunks(b"3\r\nhello\r\n0\r\n\r\n"),
    "chunk-bare-lf-size": bad_chunks(b"5\nhello\r\n0\r\n\r\n"),
    "chunk-bare-lf-data": bad_chunks(b"5\r\nhello\n0\r\n\r\n"),
    "chunk-bare-lf-last": bad_chunks(b"5\r\nhello\r\n0\n\n"),
    "chunk-bare-cr-data": bad_chunks(b"5\r\nhello\r0\r\n\r\n"),
    "chunk-ext-ignored": accepted(chunked(b"5;name=value\r\nhello\r\n0\r\n\r\n")),
    # --- line ends and control bytes (RFC 9112 §2.2: a recipient MAY take a bare LF as
    # a line end — the gateway does not — and MUST treat a bare CR as invalid or as SP;
    # RFC 9110 §5.5: CR, LF, NUL in a value MUST be rejected or replaced by SP, other
    # controls are outside field-value).
    "bare-lf-request-line": Case(b"GET /s HTTP/1.1\nHost: echo.test\r\nAccept: application/json\r\n\r\n"),
    "bare-lf-header": Case(b"GET /s HTTP/1.1\r\nHost: echo.test\nAccept: application/json\r\n\r\n"),
    "bare-lf-end-of-head": Case(b"GET /s HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\n\n"),
    "bare-cr-request-line": Case(b"GET /s HTTP/1.1\rHost: echo.test\r\nAccept: application/json\r\n\r\n"),
    "bare-cr-header-value": field(b"X-A: a\rb"),
    "nul-header-value": field(b"X-A: a\x00b"),
    "nul-header-name": field(b"X-\x00A: b"),
    "control-header-value": field(b"X-A: a\x01b"),
    "del-header-value": field(b"X-A: a\x7fb"),
    # --- field names and folding (RFC 9112 §5.1: no whitespace between name and colon,
    # MUST 400; RFC 9110 §5.1: a name is a token; RFC 9112 §5.2: obs-fold MUST be
    # rejected with 400 or replaced by SP — rejected; §2.2: whitespace before the first
    # field MUST be rejected or that line ignored — rejected).
    "space-in-header-name": field(b"Bad Name: v"),
    "tab-before-colon": length(b"Content-Length\t: 5"),
    "empty-header-name": field(b": v"),
    "header-name-non-token": field(b"X@A: v"),
    "whitespace-before-first-field": Case(b"GET /s HTTP/1.1\r\n X-A: b\r\nHost: echo.test\r\nAccept: application/json\r\n\r\n"),
    "obs-fold": field(b"X-A: a\r\n b"),
    "obs-fold-tab": field(b"X-A: a\r\n\tb"),
    # --- request lines (RFC 9110 §15.6.6: 505 for HTTP/0.9, served as no HTTP/1 request;
    # RFC 9112 §2.3: HTTP-name is case-sensitive).
    "http-0.9-simple": Case(b"GET /s\r\n\r\n", (505,), "version-not-supported"),
    "http-0.9-explicit": Case(req(line=b"GET /s HTTP/0.9"), (505,), "version-not-supported"),
    "version-lowercase": Case(req(line=b"GET /s http/1.1")),
    # --- absolute-form (RFC 9112 §3.2.2: a server MUST accept it, MUST ignore Host and
    # use the target's authority; conn/absolute_form.py). The upstream gets origin-form.
    "absolute-form-other-host": Case(
        req(line=b"GET http://evil.test/s HTTP/1.1"), (404,), "host-unknown", closed=False
    ),
    "absolute-form-routed-host": accepted(absolute(b"http://echo.test/s", b"Host: evil.test"), b""),
    "absolute-form-https": accepted(absolute(b"https://echo.test/s"), b""),
    "absolute-form-uppercase": accepted(absolute(b"HTTP://ECHO.test:80/s?x=1"), b"", "/s?x=1"),
    # §3.2.1: an empty path is "/"; a query right after the authority is no path.
    "absolute-form-no-path": accepted(absolute(b"http://echo.test"), b"", "/"),
    "absolute-form-query-no-path": accepted(absolute(b"http://echo.test?x=/s"), b"", "/?x=/s"),
    "absolute-form-http10-no-host": Case(
        b"GET http://echo.test/s HTTP/1.0\r\nAccept: application/json\r\n\r\n", (200,), forwarded=(("/s", b""),)
    ),
    # The gateway's own endpoints are found by the origin-form path (handed over to
    # aiohttp on the native plane), never forwarded.
    "absolute-form-endpoint": Case(
        absolute(b"http://echo.test/.authgate/logout", b"Host: evil.test"), (200,), closed=False
    ),
    # Refused: no request target carries a fragment (§3.2; llhttp refuses one right
    # after the authority, the path rules one after a path).
    "absolute-form-fragment-no-path": Case(absolute(b"http://echo.test#f")),
    "absolute-form-fragment": Case(absolute(b"http://echo.test/s#f"), reason="path-invalid", closed=False),
    "absolute-form-scheme-ftp": Case(absolute(b"ftp://echo.test/s")),
    # RFC 9110 §4.2.4: userinfo is an error (the spoof: which host was checked?).
    "absolute-form-userinfo": Case(absolute(b"http://echo.test@evil.test/s"), reason=HOST),
    "absolute-form-bad-host": Case(absolute(b"http://ec_ho.test/s"), reason=HOST),
    # RFC 9110 §4.2.1: an empty host MUST be rejected. Any reason: aiohttp's parser
    # (yarl) refuses these targets itself (request-invalid), the native plane's host check
    # says host-invalid.
    "absolute-form-empty-authority": Case(absolute(b"http:///s"), reason=None),
    "absolute-form-bad-port": Case(absolute(b"http://echo.test:99999/s"), reason=None),
    # §3.2: the Host fields received are still checked — none in HTTP/1.1, or two, is a
    # 400 for "any request message" (aiohttp's parser and nginx refuse them too).
    "absolute-form-two-hosts": Case(absolute(b"http://echo.test/s", b"Host: echo.test", b"Host: evil.test"), reason=HOST),
    "absolute-form-no-host": Case(absolute(b"http://echo.test/s", host=False), reason=HOST),
    # --- pipelined (RFC 9112 §9.3.2: requests are answered in order; §6.3/§9.6: after
    # a framing error the server closes): the legitimate first request is answered,
    # the bytes after it are refused and never served.
    "pipelined-then-cl-te": Case(
        FIRST + req(b"Content-Length: 6", b"Transfer-Encoding: chunked", body=b"0\r\n\r\nG"),
        (200, 400), forwarded=(("/first", b""),),
    ),
    "pipelined-then-bare-lf": Case(
        FIRST + b"GET /s HTTP/1.1\nHost: echo.test\r\n\r\n", (200, 400), forwarded=(("/first", b""),)
    ),
    "pipelined-length-then-duplicate-cl": Case(
        req(b"Content-Length: 5", body=b"hello") + req(b"Content-Length: 1", b"Content-Length: 5", body=b"hello"),
        (200, 400), forwarded=(("/s", b"hello"),),
    ),
    "pipelined-chunked-then-te-cl": Case(
        chunked(CHUNKED_HELLO) + req(b"Transfer-Encoding: chunked", b"Content-Length: 3", body=b"8\r\nSMUGGLED\r\n0\r\n\r\n"),
        (200, 400), forwarded=(("/s", b"hello"),),
    ),
    "pipelined-chunked-then-bad-chunk": Case(
        chunked(CHUNKED_HELLO) + chunked(b"5\nhello\r\n0\r\n\r\n"),
        (200, 400), forwarded=(("/s", b"hello"),), in_body=True,
    ),
    # After the gateway's own endpoint the connection is aiohttp's (handed over on the
    # native plane, llhttp still parsing in front): the framing rules hold there too.
    "endpoint-then-bad-chunk": Case(
        HANDED_OVER + chunked(b"5\nhello\r\n0\r\n\r\n"), (200, 400), in_body=True
    ),
    "endpoint-then-chunk-ext-long": Case(
        HANDED_OVER + chunked(b"5;" + b"a" * 100_000 + b"\r\nhello\r\n0\r\n\r\n"), (200, 400), in_body=True
    ),
    "pipelined-chunked-then-get": Case(
        chunked(CHUNKED_HELLO) + FIRST, (200, 200), closed=False,
        forwarded=(("/s", b"hello"), ("/first", b"")),
    ),
}  # fmt: skip


# Rows where today's aiohttp front end departs from the expectation, and how. The
# expectation stands — the native data plane must meet it — but where aiohttp serves
# they are strict xfails (front_ends.depart_on_aiohttp): a row fixed there XPASSes,
# and fails, until it leaves this table.
_PIPELINED = "the first request is dropped unanswered when the refused one arrives in the same read"
AIOHTTP_DEPARTS: dict[str, str] = {
    "te-in-http10": "served (HTTP/1.0 200), decoded as chunked",
    "te-identity-chunked": "served as chunked, the identity coding ignored",
    "te-gzip-chunked": "served as chunked: the upstream gets gzip bytes it is not told of",
    "te-empty": "refused 501 method-not-implemented",
    "te-trailing-htab": "refused 400",
    "chunk-ext-long": "100 kB of chunk extension served",
    "chunk-ext-many": "60 kB of chunk extension served",
    "chunk-trailer-long": "refused 431 headers-too-large (a trailer field bounded as a header field is)",
    "pipelined-then-cl-te": _PIPELINED,
    "pipelined-then-bare-lf": _PIPELINED,
    "pipelined-length-then-duplicate-cl": _PIPELINED,
    "pipelined-chunked-then-te-cl": _PIPELINED,
    "pipelined-chunked-then-bad-chunk": _PIPELINED,
    "endpoint-then-bad-chunk": _PIPELINED,
    "endpoint-then-chunk-ext-long": "100 kB of chunk extension served",
}


# Rows where the native data plane departs, and why: strict xfails where it serves
# (front_ends.depart_on_native), said in the closing note of the data-plane issue.
NATIVE_DEPARTS: dict[str, str] = {
    "te-trailing-htab": "llhttp (strict, no lenient flag allowed) refuses a tab after the coding: 400",
}


@pytest.mark.parametrize("name", list(CASES))
async def test_smuggling(
    name: str,
    front_end: str,
    dataplane_gateway: Gateway,
    recording_upstream: RecordingUpstream,
    request: pytest.FixtureRequest,
) -> None:
    depart_on_aiohttp(request, front_end, AIOHTTP_DEPARTS.get(name))
    depart_on_native(request, front_end, NATIVE_DEPARTS.get(name))
    case, gateway, upstream = CASES[name], dataplane_gateway, recording_upstream
    upstream.reset()
    before = await settled_ids(gateway)
    conn = await connect(gateway.port)
    try:
        answers = await exchange(conn, case)
    finally:
        conn.close()

    assert [a.status for a in answers][len(case.statuses):] == ([] if case.closed else [200])
    forwarded = [*case.forwarded, *([] if case.closed else [("/probe", b"")])]
    heads, whole = upstream.settled()
    assert [(r.target, r.body) for r in whole] == forwarded
    if not case.in_body:
        assert heads == len(forwarded)  # not even the head of the refused request

    refused = answers[len(case.statuses) - 1] if case.statuses[-1] >= 400 else None
    for answer in answers:
        if answer is refused:
            check_refusal(gateway, answer, case)
        else:
            assert gateway.record(answer.headers["x-request-id"])["status"] == answer.status
    # One record per answer, and none for anything else the bytes might have held.
    assert await settled_ids(gateway) - before == {a.headers["x-request-id"] for a in answers}
    assert "Traceback" not in gateway.stderr()


async def exchange(conn: Conn, case: Case) -> list[Answer]:
    """Write the row's bytes; read its answers, then the close or the probe's answer."""
    try:
        await conn.send(case.data)
    except ConnectionError:
        pass  # refused and closed while the rest was still being written
    answers: list[Answer] = []
    for _ in case.statuses:
        try:
            answers.append(await conn.answer())
        except asyncio.IncompleteReadError:
            break  # closed early: the statuses below say which answer is missing
    got = [(a.status, a.body[:200]) for a in answers]
    assert [a.status for a in answers] == list(case.statuses), got
    if case.closed:
        try:
            _, rest = await conn.closed_after()
        except TimeoutError:
            raise AssertionError("the gateway kept the connection open") from None
        assert rest == b"", rest[:200]
    else:
        await conn.send(PROBE)
        answers.append(await conn.answer())
    return answers


async def settled_ids(gateway: Gateway, quiet: float = 0.15) -> set[str]:
    """The request ids of the decision log once no record came for `quiet` seconds
    (records are written off the request path)."""
    count = -1
    while True:
        records = gateway.decisions(0)
        if len(records) == count:
            return {str(r["request_id"]) for r in records}
        count = len(records)
        await asyncio.sleep(quiet)


def check_refusal(gateway: Gateway, answer: Answer, case: Case) -> None:
    """The gateway's own answer and its one record; `case.reason=None`: any reason."""
    reason = case.reason or str(answer.json()["reason"])
    request_id = assert_refusal(answer, answer.status, reason)
    assert answer.version == "HTTP/1.1"
    assert answer.headers["content-type"].startswith("application/json")
    if case.closed:
        assert answer.headers["connection"] == "close"  # RFC 9112 §9.6
    assert_refused_record(gateway, request_id, answer.status, reason)
