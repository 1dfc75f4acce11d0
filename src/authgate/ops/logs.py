"""Operational logs: one handler on the root logger, JSON lines or text, with a level.

Contract: `configure_logging(config, several=...)` installs, on its first call, one
stderr handler on the root logger; later calls (a reload) replace its format, level
and the cookie names it redacts, so a reload that changes `log:` applies it. With
`log.format: auto` the lines are JSON when stderr is not a terminal (a container, a
unit file, a pipe into a collector) and text when a person is watching.

Every line carries the time (ISO 8601, UTC), level, logger and message; the request id
while a request is being handled (`REQUEST_ID`, set by `server/handler.py` for the
request's lifetime: a ContextVar, so concurrent requests on one loop each see their
own); the trace id (`trace_id`, `TRACE_ID`) while a traced request is handled
(`observability.tracing`); with several workers, the worker's pid. The JSON lines are written by
python-json-logger. Every record passes `ops.redact` first: no token or cookie value
reaches a line, not even inside a traceback.

The decision log (`authgate.decisionlog`) is a separate stream and not touched here.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from authgate.config.schema import GatewayConfig, LogConfig
from authgate.ops.redact import RedactFilter

REQUEST_ID: ContextVar[str | None] = ContextVar("authgate_request_id", default=None)
# Set only while a traced request is handled (`observability.tracing`).
TRACE_ID: ContextVar[str | None] = ContextVar("authgate_trace_id", default=None)

_JSON_NAMES = {"levelname": "level", "name": "logger", "process": "pid"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and `trace_id`) to a record logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
            trace_id = TRACE_ID.get()
            if trace_id is not None:
                record.trace_id = trace_id
        return True


class _State:
    handler: logging.StreamHandler[TextIO] | None = None
    several = False


def configure_logging(config: GatewayConfig | None, *, several: bool | None = None) -> None:
    """Install or update the gateway's log handler (None: the defaults, before a config)."""
    if several is not None:
        _State.several = several
    if _State.handler is None:
        _State.handler = build_handler(sys.stderr)
        logging.getLogger().addHandler(_State.handler)
    update_handler(_State.handler, config, several=_State.several)


def build_handler(stream: TextIO) -> logging.StreamHandler[TextIO]:
    """A handler on `stream` that redacts, then adds the request id (no format yet)."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    handler.addFilter(RequestIdFilter())
    return handler


def update_handler(
    handler: logging.StreamHandler[TextIO], config: GatewayConfig | None, *, several: bool
) -> None:
    settings = config.log if config is not None else LogConfig()
    for check in handler.filters:
        if isinstance(check, RedactFilter) and config is not None:
            check.cookie_names = (config.sessions.cookie_name,)
    handler.setFormatter(_formatter(settings, several, _is_terminal(handler.stream)))
    # The root logger's level, so aiohttp's and the libraries' lines follow it too.
    logging.getLogger().setLevel(settings.level.upper())


def _formatter(settings: LogConfig, several: bool, terminal: bool) -> logging.Formatter:
    json_lines = settings.format == "json" or (settings.format == "auto" and not terminal)
    if json_lines:
        fields = ["levelname", "name", "message", *(["process"] if several else [])]
        return JsonFormatter(fields, rename_fields=_JSON_NAMES, timestamp="time")
    pid = " [%(process)d]" if several else ""  # which worker said it
    return _TextFormatter(f"%(asctime)s %(levelname)s %(name)s{pid}: %(message)s")


class _TextFormatter(logging.Formatter):
    """The message line ends with `[request <id>]` (`[request <id> trace <id>]`) when
    there is one."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        if not request_id:
            return line
        trace_id = getattr(record, "trace_id", None)
        traced = f" trace {trace_id}" if trace_id else ""
        return f"{line} [request {request_id}{traced}]"


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
