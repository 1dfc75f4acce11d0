"""A real OpenID Provider for the tests: npm `oidc-provider` 9.x in `testbed/oidc/`.

Needs Node >= 20.18 and `make testbed` (= `npm ci --prefix testbed/oidc`) once.
The provider listens on 127.0.0.2 (the gateway under test uses 127.0.0.1, so browser
cookies of the two never mix; see docs in /work/shared/TESTBED.md).

Fixtures
--------
``oidc_provider`` (session): one provider for the whole run, with the users in
  ``DEFAULT_USERS`` and one confidential client ``authgate`` (``DEFAULT_CLIENT_ID`` /
  ``DEFAULT_CLIENT_SECRET``) whose redirect URI ``http://127.0.0.1/.authgate/callback``
  matches on ANY port (the client is registered as ``application_type: native``, for which
  oidc-provider follows RFC 8252 section 7.3 and ignores the port of loopback redirect
  URIs; the same goes for its post-logout redirect URIs). So a gateway on
  ``127.0.0.1:<any port>`` with callback path ``/.authgate/callback`` just works.

``oidc_provider_factory`` (function): ``factory(**kwargs) -> OIDCProvider`` starts a
  provider of its own (stopped at the end of the test); see ``start_oidc_provider`` for the
  keyword arguments (clients, users, port, conform_id_token_claims, ttl, acr_values,
  options). For module-scoped providers use ``with running_oidc_provider(...) as op:``.

Registering the gateway's real callback URL (exact match, ``application_type: web``):
  either pass ``clients=[make_client(redirect_uris=[f"http://127.0.0.1:{port}/.authgate/callback"])]``
  to the factory (pick the gateway port first with ``tests.testbed.ports.free_port``), or,
  on any running provider including the session one, register a client at runtime:
  ``client = oidc_provider.register_client(redirect_uris=[...], backchannel_logout_uri=...)``
  (OpenID dynamic client registration; returns ``client_id``/``client_secret``). Clients
  registered at runtime live in the provider's memory: they are gone after ``restart()``.
  A back-channel logout test must register its own client, because the
  ``backchannel_logout_uri`` (a single URL) has to name the gateway's port.

Login pages (own, not devInteractions) -- see the header of testbed/oidc/provider.mjs:
  form fields ``login``, ``password``, optional ``otp`` (matching the user's ``otp`` gives
  ``acr=mfa``, ``amr=["pwd","otp"]``), ``acr``, ``amr``, ``ts`` (fake auth_time). Without
  them the login gives ``acr=pwd``, ``amr=["pwd"]``. ``login_at_provider`` drives it with
  an aiohttp client session (create it with ``aiohttp.CookieJar(unsafe=True)``);
  ``end_session_at_provider`` logs that session out at the provider itself, which then
  calls each client's back-channel logout endpoint.

Users at run time: ``provider.set_user_claims("alice", {...})`` replaces a user's claims
(the test bed's admin route, ``adminToken`` in provider.mjs): the next token, refresh or
userinfo answer carries them — e.g. to remove a user from a group mid-session.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urljoin, urlsplit

import aiohttp
import pytest

from tests.testbed.ports import ManagedProcess, TestbedError

REPO_ROOT = Path(__file__).resolve().parents[2]
OIDC_DIR = REPO_ROOT / "testbed" / "oidc"
PROVIDER_SCRIPT = OIDC_DIR / "provider.mjs"
OIDC_HOST = "127.0.0.2"
MIN_NODE = (20, 18)
SETUP_HINT = "run `make testbed` (or `npm ci --prefix testbed/oidc`) in the repository root"

DEFAULT_CLIENT_ID = "authgate"
DEFAULT_CLIENT_SECRET = "authgate-test-secret"
DEFAULT_REDIRECT_URI = "http://127.0.0.1/.authgate/callback"
CALLBACK_PATH = "/.authgate/callback"
REGISTRATION_TOKEN = "authgate-testbed-registration"
ADMIN_TOKEN = "authgate-testbed-admin"

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "password": "alice-password",
        "otp": "123456",
        "claims": {
            "email": "alice@example.com",
            "email_verified": True,
            "name": "Alice Archer",
            "given_name": "Alice",
            "family_name": "Archer",
            "preferred_username": "alice",
            "groups": ["hr-staff", "admins"],
        },
    },
    "bob": {
        "password": "bob-password",
        "otp": "654321",
        "claims": {
            "email": "bob@contractor.example.net",
            "email_verified": True,
            "name": "Bob Builder",
            "given_name": "Bob",
            "family_name": "Builder",
            "preferred_username": "bob",
            "groups": ["contractors"],
        },
    },
}


def make_client(
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str | None = DEFAULT_CLIENT_SECRET,
    redirect_uris: Sequence[str] = (DEFAULT_REDIRECT_URI,),
    *,
    post_logout_redirect_uris: Sequence[str] = (),
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = True,
    grant_types: Sequence[str] = ("authorization_code", "refresh_token"),
    any_loopback_port: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Client metadata for oidc-provider (snake_case, as in OpenID registration).

    ``any_loopback_port=True`` registers the client as ``application_type: native`` so
    ``http://127.0.0.1/...`` redirect URIs match any port. ``client_secret=None`` makes a
    public client (``token_endpoint_auth_method: none``). ``extra`` is passed as is
    (e.g. ``token_endpoint_auth_method="client_secret_post"``,
    ``id_token_signed_response_alg="ES256"``).
    """
    client: dict[str, Any] = {
        "client_id": client_id,
        "redirect_uris": list(redirect_uris),
        "grant_types": list(grant_types),
        "response_types": ["code"],
    }
    if client_secret is None:
        client["token_endpoint_auth_method"] = "none"
    else:
        client["client_secret"] = client_secret
    if post_logout_redirect_uris:
        client["post_logout_redirect_uris"] = list(post_logout_redirect_uris)
    if backchannel_logout_uri:
        client["backchannel_logout_uri"] = backchannel_logout_uri
        client["backchannel_logout_session_required"] = backchannel_logout_session_required
    if any_loopback_port:
        client["application_type"] = "native"
    client.update(extra)
    return client


def default_clients() -> list[dict[str, Any]]:
    return [
        make_client(
            redirect_uris=[DEFAULT_REDIRECT_URI, "http://localhost/.authgate/callback"],
            post_logout_redirect_uris=[
                "http://127.0.0.1/",
                "http://127.0.0.1/.authgate/logged-out",
                "http://localhost/",
            ],
            any_loopback_port=True,
        )
    ]


# ---------------------------------------------------------------- node checks


def _node_problem() -> str | None:
    node = shutil.which("node")
    if node is None:
        return (
            "`node` is not on PATH: the OpenID Provider of the test bed needs Node.js >= "
            f"{MIN_NODE[0]}.{MIN_NODE[1]} (`sudo apt-get install nodejs npm` on Debian 13, or "
            f"https://nodejs.org), then {SETUP_HINT}"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    m = re.match(r"v(\d+)\.(\d+)", version.stdout.strip())
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_NODE:
        return (
            f"node {version.stdout.strip() or '?'} is too old: the OpenID Provider needs "
            f"Node.js >= {MIN_NODE[0]}.{MIN_NODE[1]}"
        )
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"testbed/oidc/node_modules is missing: {SETUP_HINT}"
    return None


# ---------------------------------------------------------------- the handle


class OIDCProvider:
    """A running (or stopped) oidc-provider process.

    Attributes: ``issuer`` (``http://127.0.0.2:PORT``), ``host``, ``port``,
    ``discovery_url``, ``clients`` (the static client metadata), ``users``, ``config``
    (the JSON written for provider.mjs; edit it, then ``restart()``), ``workdir``,
    ``registration_token``, ``process`` (``ManagedProcess`` or ``None`` when stopped),
    ``startup_seconds``.
    """

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config = config
        self.config_path = workdir / "provider.json"
        self.log_path = workdir / "provider.log"
        self.host: str = config.get("host", OIDC_HOST)
        self.port: int = int(config.get("port", 0))
        self.issuer = ""
        self.process: ManagedProcess | None = None
        self.startup_seconds = 0.0
        self.registration_token: str | None = config.get("registrationInitialAccessToken")

    # -- convenience views
    @property
    def clients(self) -> list[dict[str, Any]]:
        return list(self.config.get("clients", []))

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        return dict(self.config.get("users", {}))

    def client(self, client_id: str | None = None) -> dict[str, Any]:
        """Metadata of a static client (the first one by default)."""
        for client in self.clients:
            if client_id is None or client["client_id"] == client_id:
                return dict(client)
        raise KeyError(client_id)

    @property
    def client_id(self) -> str:
        return str(self.client()["client_id"])

    @property
    def client_secret(self) -> str | None:
        return self.client().get("client_secret")

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def endpoint(self, name: str) -> str:
        """``auth``, ``token``, ``me`` (userinfo), ``jwks``, ``session/end``,
        ``token/introspection``, ``token/revocation``, ``reg`` -> absolute URL."""
        return f"{self.issuer}/{name.lstrip('/')}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self, limit: int = 8000) -> str:
        if self.process is not None:
            return self.process.log_text(limit)
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        """``pytest.fail`` with the provider's output if it died."""
        if self.process is None:
            pytest.fail("the OpenID Provider is stopped", pytrace=False)
        self.process.check_alive()

    # -- lifecycle
    def start(self, *, rotate_keys: bool = False, timeout: float = 20.0) -> None:
        """Start the provider (again on the same port once it had one).

        ``rotate_keys=True`` generates a new signing key pair that signs from now on,
        keeping the previous keys published in the JWKS.
        """
        if self.running:
            raise TestbedError("the OpenID Provider is already running")
        problem = _node_problem()
        if problem:
            pytest.fail(problem, pytrace=False)
        config = dict(self.config, host=self.host, port=self.port, rotateKeys=rotate_keys)
        self.config_path.write_text(json.dumps(config, indent=2))
        started = time.monotonic()
        process = ManagedProcess(
            "oidc-provider",
            ["node", str(PROVIDER_SCRIPT), str(self.config_path)],
            self.log_path,
            cwd=OIDC_DIR,
            env={"NODE_ENV": "test", "NO_COLOR": "1"},
            stdout_pipe=True,
            stdin_pipe=True,
        )
        try:
            line = _read_ready_line(process, timeout)
            ready = json.loads(line)
            self.issuer = str(ready["issuer"])
            self.port = int(ready["port"])
        except BaseException:
            process.stop()
            raise
        self.process = process
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self, *, rotate_keys: bool = False) -> None:
        """Stop and start on the same port. Sessions, grants, tokens and clients
        registered at runtime are lost (in-memory store); static clients and keys stay."""
        self.stop()
        self.start(rotate_keys=rotate_keys)

    # -- runtime changes to users (the test bed's admin route; sync)
    def set_user_claims(self, name: str, claims: Mapping[str, Any]) -> None:
        """Replace the claims of user `name` from now on: the provider's next ID token,
        refresh or userinfo answer for them carries these (e.g. a group removed)."""
        request = urllib.request.Request(
            f"{self.issuer}/testbed/users/{quote_plus(name)}/claims",
            data=json.dumps(dict(claims)).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
            if answer.status != 204:
                raise TestbedError(f"set_user_claims({name!r}): HTTP {answer.status}")

    # -- runtime client registration (sync; ~10 ms)
    def register_client(
        self,
        redirect_uris: Sequence[str],
        *,
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        backchannel_logout_session_required: bool = True,
        grant_types: Sequence[str] = ("authorization_code", "refresh_token"),
        **extra: Any,
    ) -> dict[str, Any]:
        """Register a client through OpenID Dynamic Client Registration (POST /reg).

        Returns the registration response: ``client_id``, ``client_secret`` and the
        metadata as the provider stored it. Redirect URIs match exactly.
        """
        if not self.registration_token:
            raise TestbedError("this provider was started without registration")
        metadata = make_client(
            client_id="",
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            backchannel_logout_uri=backchannel_logout_uri,
            backchannel_logout_session_required=backchannel_logout_session_required,
            grant_types=grant_types,
            **extra,
        )
        for key in ("client_id", "client_secret"):
            metadata.pop(key, None)
        request = urllib.request.Request(
            self.endpoint("reg"),
            data=json.dumps(metadata).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.registration_token}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise TestbedError(f"client registration failed: {exc.code} {body}") from exc
        return result


def _read_ready_line(process: ManagedProcess, timeout: float) -> str:
    """Read the one JSON line provider.mjs prints on stdout when it is ready."""
    assert process.popen.stdout is not None
    fd = process.popen.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            process.fail(f"not ready within {timeout:.0f}s")
        readable, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                process.popen.wait(5)
                process.fail(f"exited with code {process.returncode} before it was ready")
            buf += chunk
        elif process.poll() is not None:
            process.fail(f"exited with code {process.returncode} before it was ready")
    return buf.split(b"\n", 1)[0].decode()


def build_config(
    *,
    clients: Sequence[Mapping[str, Any]] | None = None,
    users: Mapping[str, Mapping[str, Any]] | None = None,
    port: int = 0,
    host: str = OIDC_HOST,
    conform_id_token_claims: bool = False,
    ttl: Mapping[str, int] | None = None,
    acr_values: Sequence[str] | None = None,
    registration: bool = True,
    options: Mapping[str, Any] | None = None,
    jwks_path: Path | None = None,
    resource_servers: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "clients": [dict(c) for c in (clients if clients is not None else default_clients())],
        "users": {k: dict(v) for k, v in (users if users is not None else DEFAULT_USERS).items()},
        "conformIdTokenClaims": conform_id_token_claims,
        "exitOnStdinClose": True,
        "logRequests": True,
        "adminToken": ADMIN_TOKEN,
    }
    if ttl:
        config["ttl"] = dict(ttl)
    if acr_values is not None:
        config["acrValues"] = list(acr_values)
    if registration:
        config["registrationInitialAccessToken"] = REGISTRATION_TOKEN
    if options:
        config["options"] = dict(options)
    if resource_servers:
        config["resourceServers"] = {k: dict(v) for k, v in resource_servers.items()}
    if jwks_path is not None:
        config["jwksPath"] = str(jwks_path)
    return config


def start_oidc_provider(workdir: Path, **kwargs: Any) -> OIDCProvider:
    """Start a provider with its files in ``workdir``. Keyword arguments:

    ``clients`` (list of ``make_client(...)`` dicts; default ``default_clients()``),
    ``users`` (default ``DEFAULT_USERS``), ``port`` (0 = free), ``host`` (127.0.0.2),
    ``conform_id_token_claims`` (False), ``ttl`` ({"AccessToken": s, "IdToken": s,
    "RefreshToken": s, "Session": s, ...}), ``acr_values`` (default ["pwd", "mfa"]),
    ``registration`` (True: dynamic registration on), ``options`` (raw oidc-provider
    configuration merged last), ``resource_servers`` (RFC 8707 indicators ->
    ``{"scope": ..., "accessTokenFormat": "opaque"|"jwt", "accessTokenTTL": s}``: the
    access tokens the provider issues for them; see provider.mjs).
    """
    config = build_config(jwks_path=workdir / "jwks.json", **kwargs)
    provider = OIDCProvider(workdir, config)
    provider.start()
    return provider


@contextlib.contextmanager
def running_oidc_provider(**kwargs: Any) -> Iterator[OIDCProvider]:
    """Context manager for module- or class-scoped fixtures: own temp dir, removed after."""
    workdir = Path(tempfile.mkdtemp(prefix="authgate-oidc-"))
    provider: OIDCProvider | None = None
    try:
        provider = start_oidc_provider(workdir, **kwargs)
        yield provider
    finally:
        if provider is not None:
            provider.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OIDCProvider]:
    """The session's OpenID Provider (default users and the any-port ``authgate`` client)."""
    with running_oidc_provider() as provider:
        yield provider


@pytest.fixture
def oidc_provider_factory() -> Iterator[Callable[..., OIDCProvider]]:
    """``factory(**kwargs) -> OIDCProvider`` (see ``start_oidc_provider``); each provider
    started is stopped and its temp dir removed at the end of the test."""
    stack = contextlib.ExitStack()

    def factory(**kwargs: Any) -> OIDCProvider:
        return stack.enter_context(running_oidc_provider(**kwargs))

    with stack:
        yield factory


# ---------------------------------------------------------------- protocol helpers


def pkce_pair() -> tuple[str, str]:
    """``(code_verifier, S256 code_challenge)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def client_auth_header(client_id: str, client_secret: str) -> dict[str, str]:
    """``Authorization: Basic`` for a client (RFC 6749 2.3.1: form-encode both parts).

    (aiohttp 3.14 deprecates ``aiohttp.BasicAuth``; with ``filterwarnings = error`` it fails.)
    """
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _b64url_json(segment: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return data


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, payload)`` of a JWS compact token, WITHOUT verifying the signature."""
    header, payload, _signature = token.split(".")
    return _b64url_json(header), _b64url_json(payload)


class LoginFailed(AssertionError):
    """The provider's login page was shown again (wrong password or otp)."""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.error: str | None = None
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "id": a.get("id", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif a.get("id") == "error":
            self._in_error = True

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error = (self.error or "") + data
            self._in_error = False


def parse_forms(html: str) -> tuple[list[dict[str, Any]], str | None]:
    """Forms (``action``, ``id``, ``fields`` with default values) and the error text."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.error


async def login_at_provider(
    session: aiohttp.ClientSession,
    url: str,
    username: str,
    password: str,
    *,
    otp: str | None = None,
    acr: str | None = None,
    amr: str | Sequence[str] | None = None,
    ts: int | None = None,
    issuer: str | None = None,
    allow_consent: bool = True,
    max_hops: int = 20,
) -> str:
    """Follow redirects from ``url`` through the provider's login (and consent) pages and
    return the first redirect target that leaves the provider (e.g. the gateway's callback
    URL with ``code``, ``state`` and ``iss``) WITHOUT requesting it.

    ``url`` may be the provider's ``/auth?...`` URL or any URL that redirects there (the
    gateway). The session must keep cookies of IP hosts: ``aiohttp.CookieJar(unsafe=True)``.
    The provider is recognised by ``issuer`` when given, else as the origin of the first
    URL with path ``/auth`` and a ``client_id`` query parameter. A consent page (only
    with ``prompt=consent``) is accepted unless ``allow_consent=False`` (then it raises).
    Raises ``LoginFailed`` when the login form comes back with an error.
    """
    provider_origin: str | None = None
    if issuer:
        i = urlsplit(issuer)
        provider_origin = f"{i.scheme}://{i.netloc}"
    method, data = "GET", None
    current = url
    for _ in range(max_hops):
        async with session.request(method, current, data=data, allow_redirects=False) as resp:
            body = await resp.text()
            location = resp.headers.get("Location")
            status = resp.status
        split = urlsplit(current)
        if provider_origin is None and split.path == "/auth" and "client_id=" in split.query:
            provider_origin = f"{split.scheme}://{split.netloc}"
        if status in (301, 302, 303, 307, 308) and location:
            target = urljoin(current, location)
            t = urlsplit(target)
            if provider_origin and f"{t.scheme}://{t.netloc}" != provider_origin:
                return target
            method, data, current = "GET", None, target
            continue
        on_provider = provider_origin == f"{split.scheme}://{split.netloc}"
        if status == 200 and on_provider and split.path.startswith("/interaction/"):
            forms, error = parse_forms(body)
            if error and method == "POST":
                raise LoginFailed(f"login as {username!r} failed: {error.strip()}")
            if not forms:
                raise TestbedError(f"no form on the provider page {current}:\n{body[:2000]}")
            form = forms[0]
            fields: dict[str, str] = dict(form["fields"])
            if fields.get("prompt") == "login":
                fields.update(login=username, password=password)
                if otp is not None:
                    fields["otp"] = otp
                if acr is not None:
                    fields["acr"] = acr
                if amr is not None:
                    fields["amr"] = amr if isinstance(amr, str) else " ".join(amr)
                if ts is not None:
                    fields["ts"] = str(ts)
            elif fields.get("prompt") == "consent" and not allow_consent:
                raise TestbedError(f"the provider asked for consent at {current}")
            method, data, current = "POST", fields, urljoin(current, form["action"])
            continue
        hint = ""
        if "interaction session" in body.lower() or "cookie" in body.lower():
            hint = " (does the client session keep cookies of IP hosts? CookieJar(unsafe=True))"
        raise TestbedError(f"unexpected answer {status} from {current}{hint}:\n{body[:2000]}")
    raise TestbedError(f"more than {max_hops} redirects starting at {url}")


async def end_session_at_provider(browser: aiohttp.ClientSession, provider: OIDCProvider) -> None:
    """Log out at the provider itself (its `session/end` confirm form, as a user would);
    the provider then calls the back-channel logout endpoint of each client it knows."""
    async with browser.get(provider.endpoint("session/end"), allow_redirects=False) as r:
        forms, _ = parse_forms(await r.text())
    confirm = next(f for f in forms if "xsrf" in f["fields"])
    async with browser.post(
        urljoin(provider.issuer + "/", confirm["action"]),
        data={**confirm["fields"], "logout": "yes"},
        allow_redirects=False,
    ) as r:
        assert r.status in (302, 303, 200), await r.text()
