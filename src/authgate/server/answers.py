"""Answers the gateway gives itself: error pages and JSON bodies.

Contract: one place renders every non-upstream answer, chosen by content type — an
HTML page for browsers, JSON for API clients — and always carries the request id.
Nothing here ever includes an exception text or a traceback (CWE-209).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template

from aiohttp import web

from authgate.request_id import HEADER as REQUEST_ID_HEADER

_PAGE = Template(resources.files("authgate").joinpath("templates/error.html").read_text("utf-8"))

TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The gateway could not accept this request."),
    401: ("Sign-in required", "You need to sign in to see this page."),
    403: ("Access denied", "You are signed in, but this page is not open to you."),
    404: ("Not found", "There is no application at this address."),
    405: ("Method not allowed", "This application does not accept that kind of request here."),
    429: ("Too many requests", "Please slow down and try again shortly."),
    500: ("Gateway error", "Something went wrong in the gateway."),
    502: ("Application unreachable", "The application behind this address is not answering."),
    503: ("Service unavailable", "The application is busy; please try again shortly."),
    504: ("Application timed out", "The application behind this address took too long to answer."),
}


def wants_html(accept: str) -> bool:
    """Browsers ask for text/html; API clients ask for JSON or anything (`*/*`)."""
    return "text/html" in accept.lower()


def error_response(
    status: int, reason: str, request_id: str, accept: str
) -> web.Response:
    title, message = TITLES.get(status, ("Error", "The request could not be completed."))
    headers = {REQUEST_ID_HEADER: request_id, "Cache-Control": "no-store"}
    if wants_html(accept):
        body = _PAGE.substitute(
            status=status,
            title=html.escape(title),
            message=html.escape(message),
            reason=html.escape(reason),
            request_id=html.escape(request_id),
        )
        content_type = "text/html"
    else:
        body = json.dumps(
            {"error": title, "status": status, "reason": reason, "request_id": request_id}
        )
        content_type = "application/json"
    return web.Response(
        status=status,
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers=headers,
    )
