"""What `serve` needs from this host before it starts: files, folders and ports.

Contract: `host_findings(config, ports=...)` returns `Findings` — `errors` that would
make `serve` refuse to start, and `warnings` it would start with (and log) — each a
`ConfigProblem` keyed by the setting that names the file (`server.tls`,
`geoip.city`, `decision_log.sinks[1].file`), without file or line: the caller
locates them in the config file (`config.snapshot.locate_problems`). Nothing on
the host is changed: a missing state folder or key file is judged on whether it
could be created, a missing decision-log file on whether its folder is writable.

One implementation of each check, shared with `serve`: the pages load through the
server's own `page_renderer(config)`, TLS through `listener_ssl_context` (the
server's own context), GeoIP through `GeoDatabases`, an existing decision-log file
through the sink's own `open_append`, the state folder through
`ops.state_dir.check_state_dir` (the judgement `prepare_state_dir` enforces), an
existing assertion key file through `AssertionKeys.load`, tracing (when enabled)
by whether the `authgate[otel]` extra's modules can be found. `serve` runs these same
checks (without ports) before it starts, so every such problem is printed at once.

Ports (`ports=True`, `check-config` only: `serve` binds them for real) are bound
with the server's own `open_listeners` (SO_REUSEADDR, and SO_REUSEPORT when several
workers share them), `listen` and `admin_listen` held together (the same port for
both is a conflict), then closed. That answers for this moment only; the message says
so, since another process — or this gateway already running — may hold it.
"""

from __future__ import annotations

import importlib.util
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from authgate.config.errors import ConfigProblem
from authgate.config.schema import GatewayConfig
from authgate.decisionlog.sinks import open_append
from authgate.device.cert import TlsFileError, server_ssl_context
from authgate.geo.databases import GeoDatabases, GeoError
from authgate.geo.reader import SLOTS
from authgate.mutate.assertion_keys import AssertionKeyError, AssertionKeys, exposed_mode
from authgate.ops.listeners import Listener, open_listeners
from authgate.ops.state_dir import (
    ASSERTION_KEY_FILE,
    AUDIT_KEY_FILE,
    check_state_dir,
    creatable_problem,
    state_path,
)
from authgate.server.pages import TemplateError
from authgate.server.state import page_renderer


@dataclass
class Findings:
    errors: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)

    def error(self, key: str, message: str) -> None:
        self.errors.append(ConfigProblem("", None, key, message))

    def warning(self, key: str, message: str) -> None:
        self.warnings.append(ConfigProblem("", None, key, message))


def host_findings(config: GatewayConfig, *, ports: bool) -> Findings:
    found = Findings()
    _templates(config, found)
    _tls(config, found)
    _geoip(config, found)
    _decision_log(config, found)
    _state(config, found)
    _tracing(config, found)
    if ports:
        _ports(config, found)
    return found


def listener_ssl_context(config: GatewayConfig) -> ssl.SSLContext | None:
    """TLS on the listener; with `devices.mtls`, client certificates are asked for
    (optional) or required, and verified against the device CA."""
    tls, mtls = config.server.tls, config.devices.mtls
    if tls is None:
        return None
    if mtls is None:
        return server_ssl_context(tls.cert, tls.key)
    return server_ssl_context(tls.cert, tls.key, mtls.client_ca, mtls.mode)


def _templates(config: GatewayConfig, found: Findings) -> None:
    try:
        page_renderer(config)
    except TemplateError as error:
        found.error("server.templates_dir", str(error))


def _tls(config: GatewayConfig, found: Findings) -> None:
    try:
        listener_ssl_context(config)
    except TlsFileError as error:
        for which, message in error.failures:
            found.error("server.tls" if which == "pair" else "devices.mtls.client_ca", message)


def _geoip(config: GatewayConfig, found: Findings) -> None:
    if config.geoip is None:
        return
    for slot in SLOTS:
        path: str | None = getattr(config.geoip, slot)
        if path is None:
            continue
        try:
            GeoDatabases({slot: path}).close()  # one slot at a time: one key per problem
        except GeoError as error:
            found.error(f"geoip.{slot}", str(error).removeprefix(f"geoip.{slot}: "))


def _decision_log(config: GatewayConfig, found: Findings) -> None:
    for index, sink in enumerate(config.decision_log.sinks):
        if isinstance(sink, str) or sink.file is None:
            continue
        problem = _appendable(Path(sink.file))
        if problem is not None:
            found.error(f"decision_log.sinks[{index}].file", problem)


def _appendable(path: Path) -> str | None:
    """Why the sink could not open `path` for appending; a missing file is not created."""
    if not path.exists():  # the sink creates the file, never its folder
        if not path.parent.is_dir():
            return f"{path}: its folder {path.parent} does not exist"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return f"{path}: its folder {path.parent} is not writable by uid {os.getuid()}"
        return None
    try:
        open_append(path).close()  # appends nothing: the file is left as it was
    except OSError as error:
        return f"{path}: cannot open for appending: {error.strerror or error}"
    return None


def _state(config: GatewayConfig, found: Findings) -> None:
    """The key files (assertion keys, a chained log's signing keys), and the state
    folder when one of them lives there (checked once)."""
    keys: list[tuple[Path, str, str]] = []
    if config.secrets is not None:  # no secrets: no assertion key file
        given = config.secrets.assertion_keys
        keys.append((state_path(config.server.state_dir, given, ASSERTION_KEY_FILE),
                     "secrets.assertion_keys" if given is not None else "server.state_dir",
                     "assertion key file"))
    for index, sink in enumerate(config.decision_log.sinks):
        if not isinstance(sink, str) and sink.chain is not None:
            given = sink.chain.signing_keys
            keys.append((state_path(config.server.state_dir, given, AUDIT_KEY_FILE),
                         f"decision_log.sinks[{index}].chain.signing_keys" if given is not None
                         else "server.state_dir", "decision log signing key file"))
    if any(path.is_relative_to(config.server.state_dir) for path, _, _ in keys):
        folder = Path(config.server.state_dir)
        refusal, warning = check_state_dir(folder)
        if warning is not None:
            found.warning("server.state_dir", f"{folder}: {warning}")
        if refusal is not None:
            found.error("server.state_dir", f"{folder}: {refusal}")
            return
    for path, key, what in keys:
        _key_file(path, key, what, found)


def _key_file(path: Path, key: str, what: str, found: Findings) -> None:
    if not path.exists():
        problem = creatable_problem(path.parent)
        if problem is not None:
            found.error(key, f"{path}: cannot create the {what}: {problem}")
        return
    try:
        AssertionKeys.load(path)
    except AssertionKeyError as error:
        found.error(key, str(error))
        return
    mode = exposed_mode(path)
    if mode is not None:
        found.warning(key, f"{what} {path} is readable by others (mode {mode:o}): chmod 600")


# What `authgate[otel]` installs; looked up, not imported (that is the tracer's job).
OTEL_MODULES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")


def _tracing(config: GatewayConfig, found: Findings) -> None:
    if not config.observability.tracing.enabled:
        return
    missing = [name for name in OTEL_MODULES if not _importable(name)]
    if missing:
        found.error(
            "observability.tracing.enabled",
            f"needs the otel extra, not installed here ({', '.join(missing)} missing): "
            "pip install 'authgate[otel]'",
        )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _ports(config: GatewayConfig, found: Findings) -> None:
    server = config.server
    addresses = [("server.listen", server.listen)]
    if server.admin_listen is not None:
        addresses.append(("server.admin_listen", server.admin_listen))
    held: list[Listener] = []
    try:
        for key, listen in addresses:
            try:
                held += open_listeners(listen, reuse_port=server.workers > 1)
            except OSError as error:
                found.error(key, f"cannot listen on {listen} now: {error.strerror or error} "
                            "(checked at this moment by binding and closing it; if it is "
                            "this gateway already running there, that is expected)")
    finally:
        for listener in held:
            listener.sock.close()
