"""A raw-socket upstream that counts the requests it receives and keeps their exact bytes.

Contract: `RecordingUpstream` listens on a free loopback port (its own threads, so it
serves any event loop and a module-scoped gateway alike). On every connection it reads
requests one after another (keep-alive): the head byte for byte, then the body by the
framing the gateway chose (`Content-Length`, or `chunked`, decoded), and answers each
whole request `200 ok`. It counts

* `heads`: request heads that arrived (a body may still have been cut off), and
* `requests`: whole requests — head and complete body — as `Received` values,

so a test can tell "nothing reached the upstream" (no head) from "the upstream got
the start of a stream that was aborted" (a head, never a whole request), as in
tests/hardening/test_body_limits.py. `tests/hardening/scripted_upstream.py` answers
one head per connection with fixed bytes; this one follows the gateway's keep-alive
connections and reads the bodies, which the framing tests need.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from io import BufferedIOBase

import pytest

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _Cut(Exception):
    """The connection ended (or broke the framing) inside a request."""


@dataclass(frozen=True)
class Received:
    """One whole request as the upstream read it."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]  # names as sent, in order, duplicates kept
    body: bytes  # decoded from its framing
    head: bytes  # the request line and header section, exactly as received

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class RecordingUpstream:
    def __init__(self) -> None:
        self.heads = 0
        self.requests: list[Received] = []
        self._changed = threading.Condition()
        upstream = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                # No read timeout: the gateway's pool decides when an idle connection
                # ends. An upstream that closed first would race the pool's next reuse
                # (a 502 that is the test's doing, not the gateway's).
                upstream._serve(self.rfile, self.connection)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._changed:
            self.heads = 0
            self.requests = []

    def settled(self, quiet: float = 0.2) -> tuple[int, list[Received]]:
        """(heads, whole requests) once nothing new arrived for `quiet` seconds."""
        with self._changed:
            while self._changed.wait(quiet):
                pass
            return self.heads, list(self.requests)

    def _serve(self, rfile: BufferedIOBase, conn: socket.socket) -> None:
        try:
            while True:
                head = _read_head(rfile)
                if head is None:
                    return
                with self._changed:
                    self.heads += 1
                    self._changed.notify_all()
                received = _parse(head, rfile)
                with self._changed:
                    self.requests.append(received)
                    self._changed.notify_all()
                conn.sendall(ANSWER)
                if any(v.lower() == "close" for v in received.header("Connection")):
                    return
        except (_Cut, OSError, ValueError):  # ValueError: a request line or size unread
            return


def _read_head(rfile: BufferedIOBase) -> bytes | None:
    head = b""
    while True:
        line = rfile.readline(65536)
        if not line:
            if head:
                raise _Cut
            return None  # the gateway closed an idle connection
        head += line
        if line == b"\r\n":
            return head


def _parse(head: bytes, rfile: BufferedIOBase) -> Received:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    headers = tuple(
        (name, value.strip(" \t"))
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    )
    received = Received(method, target, version, headers, b"", head)
    if any("chunked" in v.lower() for v in received.header("Transfer-Encoding")):
        body = _read_chunked(rfile)
    else:
        lengths = received.header("Content-Length")
        body = _read_exactly(rfile, int(lengths[0])) if lengths else b""
    return Received(method, target, version, headers, body, head)


def _read_exactly(rfile: BufferedIOBase, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) != size:
        raise _Cut
    return data


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    body = b""
    while True:
        line = rfile.readline(65536)
        if not line.endswith(b"\r\n"):
            raise _Cut
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        body += _read_exactly(rfile, size)
        if _read_exactly(rfile, 2) != b"\r\n":
            raise _Cut
    while (trailer := rfile.readline(65536)) != b"\r\n":  # the trailer section, dropped
        if not trailer:
            raise _Cut
    return body


@pytest.fixture(scope="module")
def recording_upstream() -> Iterator[RecordingUpstream]:
    upstream = RecordingUpstream()
    upstream.start()
    yield upstream
    upstream.stop()
