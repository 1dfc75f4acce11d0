"""Fixtures for forward-auth tests: the gateway behind a real nginx or a real Caddy.

``front`` (parametrized: ``nginx``, ``caddy``) starts the gateway (route ``app`` on
host 127.0.0.1 that needs a login, with public ``/public/**``; route ``open`` on host
``public.test``, public throughout; ``trusted_proxies: [127.0.0.1/32]``), then the
proxy from the recipe in ``files/`` (the same text as in docs/forward-auth.md) in
front of the echo upstream, and returns a ``Front``. ``forward_gateway`` is that
gateway alone; ``shared_gateway`` (module scope) the same config for tests that only
ask the gateway and never reach an app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.testbed.caddy import Caddy
from tests.testbed.gateway import Gateway, start_gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.nginx import Nginx
from tests.testbed.oidc import OIDCProvider
from tests.testbed.ports import free_port

FILES = Path(__file__).parent / "files"
RECIPES = {"nginx": "nginx.conf", "caddy": "Caddyfile"}


def render(name: str, **values: str) -> str:
    """A recipe from `files/` with its `{{NAME}}` placeholders filled in."""
    text = (FILES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{%s}}" % key, value)
    assert "{{" not in text, f"unfilled placeholder in {name}"
    return text


@dataclass
class Front:
    kind: str
    port: int
    gateway: Gateway
    proxy: Nginx | Caddy

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def forward_config(provider: OIDCProvider, upstream: str, key_file: Path) -> dict[str, Any]:
    config = login_config(provider, upstream, key_file)
    config["server"] = {"trusted_proxies": ["127.0.0.1/32"]}
    config["routes"].append(
        {"id": "open", "match": {"host": "public.test"}, "upstream": upstream, "public": ["/**"]}
    )
    return config


@pytest.fixture
def forward_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    return gateway_factory(forward_config(oidc_provider, upstream, tmp_path / "assertion.pem"))


@pytest.fixture(scope="module")
def shared_gateway(oidc_provider: OIDCProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for a module of tests that only ask it (it never reaches the app)."""
    workdir = tmp_path_factory.mktemp("forward-gateway")
    config = forward_config(oidc_provider, "http://127.0.0.1:9", workdir / "assertion.pem")
    gateway = start_gateway(config, workdir)
    yield gateway
    gateway.stop()


@pytest.fixture(params=sorted(RECIPES))
def front(
    request: pytest.FixtureRequest,
    forward_gateway: Gateway,
    echo_upstream: TestServer,
    nginx_factory: Callable[[str, int], Nginx],
    caddy_factory: Callable[[str, int], Caddy],
) -> Front:
    return start_front(request.param, forward_gateway, echo_upstream, nginx_factory, caddy_factory)


def start_front(
    kind: str,
    gateway: Gateway,
    echo_upstream: TestServer,
    nginx_factory: Callable[[str, int], Nginx],
    caddy_factory: Callable[[str, int], Caddy],
) -> Front:
    """The proxy `kind` running its recipe in front of the echo upstream and `gateway`."""
    port = free_port()
    text = render(
        RECIPES[kind],
        LISTEN=f"127.0.0.1:{port}",
        AUTHGATE=f"127.0.0.1:{gateway.port}",
        APP=f"127.0.0.1:{echo_upstream.port}",
    )
    factory = nginx_factory if kind == "nginx" else caddy_factory
    return Front(kind, port, gateway, factory(text, port))
