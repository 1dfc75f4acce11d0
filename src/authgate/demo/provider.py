"""The demo's OpenID Provider: the test bed's `oidc-provider`, branded, on a free port.

Contract: `provider_config(template, gateway)` is the JSON config of
`testbed/oidc/provider.mjs` for a gateway at origin `gateway`
(`http://demo.localhost:PORT`): the `{gateway}` placeholder in every client's
`redirect_uris` / `post_logout_redirect_uris` is replaced, because the provider
compares redirect URIs exactly (OpenID Connect Core 1.0 §3.1.2.1) and a moved port
must still match. `start_provider(config_file, timeout)` runs it and returns the child
and its issuer, read from the provider's one ready line on stdout (it binds port 0,
so the demo never collides with whatever already uses a fixed port).
"""

from __future__ import annotations

import json
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from authgate.demo.children import DemoError

PLACEHOLDER = "{gateway}"
URI_KEYS = ("redirect_uris", "post_logout_redirect_uris")
SCRIPT = Path("testbed/oidc/provider.mjs")


def provider_config(template: dict[str, Any], gateway: str) -> dict[str, Any]:
    config = dict(template)
    config["clients"] = [_client(client, gateway) for client in template.get("clients", [])]
    return config


def _client(client: dict[str, Any], gateway: str) -> dict[str, Any]:
    out = dict(client)
    for key in URI_KEYS:
        if key in client:
            out[key] = [uri.replace(PLACEHOLDER, gateway) for uri in client[key]]
    return out


def start_provider(config_file: Path, timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    child = subprocess.Popen(
        ["node", str(SCRIPT), str(config_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None  # stdout=PIPE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        ready, _, _ = select.select([child.stdout], [], [], 0.2)
        if ready:
            line = child.stdout.readline()
            if line:
                return child, str(json.loads(line)["issuer"])
    child.kill()
    child.wait(5)
    raise DemoError(f"the OpenID Provider did not start within {timeout:.0f} s (needs Node >= 20.18)")
