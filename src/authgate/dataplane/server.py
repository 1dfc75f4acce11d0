"""The public listener's protocol factory when `server.data_plane` is `native`.

Contract: `DataPlaneServer` is the aiohttp `GatewayServer` (so a handed-over
connection, `aiohttp_protocol()`, is exactly the aiohttp front end's) whose calls
make `DataPlaneProtocol`s, with the worker's upstream pool. It tracks its own
connections for the drain aiohttp's runner performs on cleanup: `pre_shutdown`
closes idle connections and lets busy ones finish their answer; `shutdown(timeout)`
waits up to `timeout` for them (aborting what is left), as aiohttp does for its own,
and then closes the pool. The listeners (`ops.listeners`) use it like any protocol
factory, the accept queue drained on close included.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from authgate.dataplane.pool import UpstreamPool
from authgate.dataplane.protocol import DataPlaneProtocol
from authgate.server.protocol import GatewayProtocol, GatewayServer
from authgate.server.state import GENERATION


class DataPlaneServer(GatewayServer):
    def __init__(self, plain: web.Server, app: web.Application) -> None:
        super().__init__(plain, app)
        server = app[GENERATION].snapshot.config.server  # restart-only settings (ops.changes)
        self.pool = UpstreamPool(
            per_host=server.upstream_pool_size_per_host, total=server.upstream_pool_size
        )
        self.loop: asyncio.AbstractEventLoop = self._loop
        self.draining = False
        self._native: set[DataPlaneProtocol] = set()

    def __call__(self) -> DataPlaneProtocol:  # type: ignore[override]
        return DataPlaneProtocol(self)

    def aiohttp_protocol(self) -> GatewayProtocol:
        """The aiohttp front end's protocol, for a connection handed over."""
        return super().__call__()

    def track(self, protocol: DataPlaneProtocol) -> None:
        self._native.add(protocol)

    def untrack(self, protocol: DataPlaneProtocol) -> None:
        self._native.discard(protocol)

    def open_connections(self) -> int:
        """Client connections open now (`ops.drain` logs it). Every one starts as a
        `DataPlaneProtocol`, and a handed-over one stays tracked until it closes."""
        return len(self._native)

    def pre_shutdown(self) -> None:
        self.draining = True
        for protocol in list(self._native):
            protocol.close()
        super().pre_shutdown()

    async def shutdown(self, timeout: float | None = None) -> None:
        native = [protocol.shutdown(timeout) for protocol in list(self._native)]
        await asyncio.gather(super().shutdown(timeout), *native)
        self.pool.close()
