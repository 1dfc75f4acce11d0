"""Listening sockets we open ourselves, so that closing them loses no connection.

Contract: `open_listeners(listen, reuse_port=...)` binds and listens on every address
`host:port` resolves to (one socket per family, as asyncio's `create_server` does)
and raises `OSError` if any cannot be bound. `Listener.site(runner)` serves it.

`Listener.close(runner)` stops accepting without dropping what the kernel already
accepted. When a listening socket is closed, the connections waiting in its accept
queue — whose clients saw `connect()` succeed and may have sent their request — are
reset. So each listener keeps a second descriptor of its socket: the event loop stops
watching (and closes) its own, the kernel socket stays open through ours, we accept
whatever is queued, close ours, and hand the accepted connections to the server like
any other. What is left is a window of microseconds between the last `accept()` and
`close()`, instead of the time since the loop last polled the socket.

With `reuse_port` every worker process binds its own socket to the same port
(SO_REUSEPORT) and the kernel spreads new connections over them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field

from aiohttp import web

BACKLOG = 1024


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) -> (host, port); host may be "" for all."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass
class Listener:
    sock: socket.socket
    ssl_context: ssl.SSLContext | None = None
    _reserve: socket.socket | None = field(default=None, repr=False)
    _site: web.SockSite | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def start(self, runner: web.BaseRunner) -> None:
        self._reserve = self.sock.dup()
        self._site = web.SockSite(runner, self.sock, ssl_context=self.ssl_context)
        await self._site.start()

    async def close(self, runner: web.BaseRunner) -> int:
        """Stop accepting; serve what was already queued. Returns how many that was."""
        if self._site is not None:
            await self._site.stop()
            await asyncio.sleep(0)  # let the loop release its descriptor first
        reserve, self._reserve = self._reserve, None
        if reserve is None:
            return 0
        queued = _accept_queued(reserve)
        reserve.close()  # the last descriptor: from here on, connects are refused
        server = runner.server
        loop = asyncio.get_running_loop()
        for conn in queued:
            if server is None:
                conn.close()
                continue
            await loop.connect_accepted_socket(server, conn, ssl=self.ssl_context)
        return len(queued)


def _accept_queued(sock: socket.socket) -> list[socket.socket]:
    sock.setblocking(False)
    accepted: list[socket.socket] = []
    while True:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return accepted
        except OSError:  # e.g. ECONNABORTED: that client already gave up
            continue
        conn.setblocking(False)
        accepted.append(conn)


def open_listeners(
    listen: str,
    *,
    reuse_port: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    backlog: int = BACKLOG,
) -> list[Listener]:
    host, port = split_listen(listen)
    infos = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[Listener] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = _bound(family, kind, proto, address, reuse_port)
            sock.listen(backlog)
            listeners.append(Listener(sock, ssl_context))
    except BaseException:
        for listener in listeners:
            listener.sock.close()
        raise
    return listeners


def _bound(
    family: int, kind: int, proto: int, address: object, reuse_port: bool
) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio does: a restart may rebind while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # As asyncio does: [::] and 0.0.0.0 are two sockets, not one dual-stack one.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)  # type: ignore[arg-type]  # getaddrinfo's address tuple
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
