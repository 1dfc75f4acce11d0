"""`Wire`: one request as read from the wire, once, at the edge — plain values only.

Contract: a front end (the aiohttp server, `server/edge.py`; the data plane of its
own) builds one `Wire` per request from what it parsed and hands it to the pipeline;
no stage reads the framework's request (STYLE.md lesson 15), so the pipeline runs
the same behind either front end and a stage is a table test. The headers are the
ones received, in order, duplicates kept — the duplicated-credential refusal
(`authgate.credentials`) and the forwarding rebuild depend on both. Cookies are
parsed lazily, once, across every `Cookie` header (RFC 9113 §8.2.3 splits cookies
over several fields; a name's first value wins, as `mutate.cookies.cookie_map`
says), so the gateway sees the same cookies as the duplicate check and the upstream.
Importing this module loads no I/O library (tests/test_purity.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from authgate.mutate.cookies import cookie_map

if TYPE_CHECKING:
    import ssl

    from multidict import CIMultiDictProxy


class Wire:
    """What the client sent and how it reached us; built once per request."""

    __slots__ = (
        "method",
        "raw_target",
        "version",
        "headers",
        "peer",
        "secure",
        "listener_port",
        "ssl_object",
        "_cookies",
    )

    def __init__(
        self,
        *,
        method: str,
        raw_target: str,
        version: tuple[int, int],
        headers: CIMultiDictProxy[str],
        peer: str,
        secure: bool,
        listener_port: int | None,
        ssl_object: ssl.SSLObject | None,
    ) -> None:
        self.method = method
        self.raw_target = raw_target  # origin-form, as received
        self.version = version
        self.headers = headers
        self.peer = peer  # the peer's address, or "unknown"
        self.secure = secure  # came in on a TLS listener
        self.listener_port = listener_port
        self.ssl_object = ssl_object  # the client certificate's source (mTLS device facts)
        self._cookies: dict[str, str] | None = None

    @property
    def host(self) -> str:
        """The Host header as sent ("" without one; facts refuse that request)."""
        return self.headers.get("Host", "")

    def cookies(self) -> Mapping[str, str]:
        """Every cookie of every `Cookie` header, a name's first value winning."""
        if self._cookies is None:
            self._cookies = cookie_map(self.headers.getall("Cookie", ()))
        return self._cookies

    def cookie(self, name: str) -> str | None:
        """The first value of cookie `name` across all `Cookie` headers."""
        return self.cookies().get(name)

    def content_length(self) -> int | None:
        """The declared body length; the parser already refused a malformed one."""
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return None
