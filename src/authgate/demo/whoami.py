"""whoami: a tiny upstream app that shows what the gateway forwarded to it.

Contract: `build_whoami_app()` answers every path with a page (or JSON for API
clients) listing the request line and every header it received, so a person can see
the forwarding and identity headers the gateway sets. Run it with
`python -m authgate.demo.whoami PORT [HOST]`.
"""

from __future__ import annotations

import html
import sys

from aiohttp import web


async def whoami(request: web.Request) -> web.Response:
    headers = [(k, v) for k, v in request.headers.items()]
    if "text/html" not in request.headers.get("Accept", ""):
        return web.json_response(
            {"method": request.method, "target": request.raw_path, "headers": headers}
        )
    rows = "".join(
        f"<tr><th scope=row>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
        for k, v in headers
    )
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>whoami</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}th{text-align:left;"
        "padding-right:1rem;vertical-align:top}code{word-break:break-all}</style>"
        f"<h1>whoami</h1><p><code>{html.escape(request.method)} "
        f"{html.escape(request.raw_path)}</code></p><table>{rows}</table></html>"
    )
    return web.Response(text=page, content_type="text/html")


def build_whoami_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", whoami)
    return app


if __name__ == "__main__":
    # python -m authgate.demo.whoami PORT [HOST] — loopback unless a host is given
    # (a container binds 0.0.0.0).
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    web.run_app(build_whoami_app(), host=host, port=int(sys.argv[1]), access_log=None)
