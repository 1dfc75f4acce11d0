"""whoami: a tiny upstream app that shows what the gateway forwarded to it.

Contract: `build_whoami_app(title)` answers every path with a page titled `title` (or
JSON for API clients) listing the request line and every header it received, so a
person can see the forwarding and identity headers the gateway sets. Run it with
`python -m authgate.demo.whoami PORT [HOST [TITLE]]` (the demo runs it twice, as the
"Handbook" and the "Admin console").
"""

from __future__ import annotations

import html
import sys

from aiohttp import web

TITLE = web.AppKey("title", str)


async def whoami(request: web.Request) -> web.Response:
    title = html.escape(request.app[TITLE])
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
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}th{text-align:left;"
        "padding-right:1rem;vertical-align:top}code{word-break:break-all}</style>"
        f"<h1>{title}</h1><p><code>{html.escape(request.method)} "
        f"{html.escape(request.raw_path)}</code></p><table>{rows}</table></html>"
    )
    return web.Response(text=page, content_type="text/html")


def build_whoami_app(title: str = "whoami") -> web.Application:
    app = web.Application()
    app[TITLE] = title
    app.router.add_route("*", "/{tail:.*}", whoami)
    return app


if __name__ == "__main__":
    # python -m authgate.demo.whoami PORT [HOST] — loopback unless a host is given
    # (a container binds 0.0.0.0).
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    title = sys.argv[3] if len(sys.argv) > 3 else "whoami"
    app = build_whoami_app(title)
    web.run_app(app, host=host, port=int(sys.argv[1]), access_log=None, print=None)
