"""The live decision dashboard's routes on the admin listener (never the public one).

Contract: `add_dashboard_routes(admin, main)` adds, to the admin application only:

* `GET /dashboard` — the page (`dashboard/static/dashboard.html`), plain JS, no build;
  `GET /dashboard/static/{name}` — its script and style and the vendored uPlot files,
  read from the installed package (package data), nothing from the network. Every
  answer carries a strict CSP (`CSP`: own origin only, no inline script or style, no
  framing) and `nosniff`.
* `GET /dashboard/api/summary` — totals, top tables, risk bands, signals, latency
  percentiles per route over 15 minutes; `/dashboard/api/series` — decisions per
  second by outcome and the limit events; `/dashboard/api/decisions?route=&user=&
  decision=&reason=&since=&until=&limit=` — recent decisions, newest first (400 for a
  bad filter); `/dashboard/api/decisions/{request_id}` — one record and its `explain`
  against the current config generation (404 when it left the ring).
* `GET /dashboard/events` — server-sent events (`text/event-stream`): one `tick` a
  second with the last `TICK_SERIES` seconds of the series and the summary
  (`dashboard.live`), at most `decision_log.dashboard.clients` at once (503 beyond).

With a shared feed (`dashboard.feeds`) that this worker has just started, an API
answer waits up to `BACKFILL_WAIT` for its backfill; `ready: false` says it ran out.

Every answer is 404 when the dashboard is off (`dashboard.source.build_dashboard`).
The `Host` must be an IP literal, `localhost` or one of `decision_log.dashboard.hosts`
(403 otherwise): the admin listener has no login, so a page under a foreign name
pointed at its address (DNS rebinding) must not read it from an inside browser.
The admin listener's own protection — bound to loopback or a private interface — is
the access control; docs/observability.md shows how to put the gateway's own login
for a group in front of it with a route.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from importlib import resources

from aiohttp import web

from authgate.dashboard.live import LiveHub
from authgate.dashboard.source import Dashboard
from authgate.dashboard.tap import DashboardTap
from authgate.dashboard.views import Filters, detail, rows
from authgate.server.state import GENERATION

DASHBOARD = web.AppKey("dashboard", Dashboard)
LIVE = web.AppKey("dashboard_live", LiveHub)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TICK_SERIES = 10
# A shared feed that just started backfills first: an API answer waits this long for
# it (polling), so it is not the empty tap of a worker that had not looked yet.
BACKFILL_WAIT = 3.0
WRITE_TIMEOUT = 10.0  # a client that takes no bytes for this long is cut
_STATIC = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "uPlot.iife.min.js": "text/javascript",
    "uPlot.min.css": "text/css",
    "uPlot.LICENSE": "text/plain",
}
_PAGE = "dashboard.html"


def add_dashboard_routes(admin: web.Application, main: web.Application) -> None:
    admin.router.add_get("/dashboard", _page)
    admin.router.add_get("/dashboard/static/{name}", _static)
    admin.router.add_get("/dashboard/api/summary", _summary)
    admin.router.add_get("/dashboard/api/series", _series)
    admin.router.add_get("/dashboard/api/decisions", _decisions)
    admin.router.add_get("/dashboard/api/decisions/{request_id}", _decision)
    admin.router.add_get("/dashboard/events", _events)
    admin.on_shutdown.append(_close_live)
    admin[MAIN] = main
    admin[LIVE] = LiveHub(lambda: tick(main[DASHBOARD]))


MAIN = web.AppKey("dashboard_main", web.Application)


def _dashboard(request: web.Request) -> Dashboard:
    dashboard = request.app[MAIN].get(DASHBOARD)
    if dashboard is None:
        raise web.HTTPNotFound(text="the dashboard is off (decision_log.dashboard)")
    if not _host_allowed(_bare_host(request.host or ""), dashboard.hosts):
        raise web.HTTPForbidden(
            text="Host not allowed for the dashboard (DNS rebinding guard): add it to "
            "decision_log.dashboard.hosts"
        )
    return dashboard


def _bare_host(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _host_allowed(host: str, extra: tuple[str, ...]) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name in extra:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _headers(content_type: str, *, cache: bool = False) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "max-age=300" if cache else "no-store",
    }


def _read(name: str) -> bytes:
    return resources.files("authgate.dashboard").joinpath("static", name).read_bytes()


async def _page(request: web.Request) -> web.Response:
    _dashboard(request)
    return web.Response(body=_read(_PAGE), headers=_headers("text/html; charset=utf-8"))


async def _static(request: web.Request) -> web.Response:
    _dashboard(request)
    name = request.match_info["name"]
    kind = _STATIC.get(name)  # a fixed list: no path from the request reaches the disk
    if kind is None:
        raise web.HTTPNotFound()
    return web.Response(body=_read(name), headers=_headers(f"{kind}; charset=utf-8", cache=True))


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status,
        headers=_headers("application/json"),
    )


def _about(dashboard: Dashboard) -> dict[str, object]:
    return {
        "source": dashboard.source, "scope": dashboard.scope, "ready": dashboard.ready,
        "now": time.time(),
    }


async def _ready_tap(dashboard: Dashboard) -> DashboardTap:
    tap = dashboard.tap()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BACKFILL_WAIT
    while not dashboard.ready and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return tap


async def _summary(request: web.Request) -> web.Response:
    dashboard = _dashboard(request)
    tap = await _ready_tap(dashboard)
    return _json({**_about(dashboard), "summary": tap.summary(time.time())})


async def _series(request: web.Request) -> web.Response:
    dashboard = _dashboard(request)
    tap = await _ready_tap(dashboard)
    return _json({**_about(dashboard), "series": tap.series(time.time())})


async def _decisions(request: web.Request) -> web.Response:
    dashboard = _dashboard(request)
    try:
        filters = Filters.parse(request.query)
    except ValueError as error:
        return _json({"error": str(error)}, status=400)
    tap = await _ready_tap(dashboard)
    return _json({**_about(dashboard), "rows": rows(tap.recent(), filters)})


async def _decision(request: web.Request) -> web.Response:
    dashboard = _dashboard(request)
    record = (await _ready_tap(dashboard)).find(request.match_info["request_id"])
    if record is None:
        return _json({"error": "no such record among the recent ones"}, status=404)
    return _json(detail(record, request.app[MAIN].get(GENERATION)))


def tick(dashboard: Dashboard) -> bytes:
    """One SSE event: the newest seconds of the series and the summary."""
    now = time.time()
    tap = dashboard.tap()
    series = tap.series(now, TICK_SERIES)
    body = {**_about(dashboard), "series": series, "summary": tap.summary(now)}
    return b"event: tick\ndata: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


async def _events(request: web.Request) -> web.StreamResponse:
    dashboard = _dashboard(request)
    subscription = request.app[LIVE].subscribe(dashboard.clients)
    if subscription is None:
        return _json({"error": "too many live dashboards open"}, status=503)
    response = web.StreamResponse(headers=_headers("text/event-stream"))
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while True:
            event = await subscription.next()
            if not event:
                break
            async with asyncio.timeout(WRITE_TIMEOUT):
                await response.write(event)
    except (ConnectionResetError, TimeoutError):
        pass  # the browser went away or stopped reading
    finally:
        subscription.close()
    return response


async def _close_live(admin: web.Application) -> None:
    await admin[LIVE].close()
