"""`python -m authgate.demo [--port PORT]`: provider, two apps and gateway, for `make demo`.

Starts, printing one line per step: the test bed's OpenID Provider (`testbed/oidc`,
branded "Northwind ID", users alice/alice, an admin, and bob/bob, an employee) on a
free port; the whoami app twice on free ports, as the "Handbook" (any employee) and the
"Admin console" (`admins` only); and the gateway with `config/demo.yaml` on
127.0.0.1:PORT (default 8080). It prints the URL only once the gateway accepts
connections. Everything that names the gateway's origin follows PORT: the provider's
registered redirect URIs are written for it (`.demo/provider.json`), the issuer is the
provider's real one, and the session cookie is host-only (no port in it). Its cookie
secret and assertion key are its own, in `.demo/` or `$AUTHGATE_DEMO_STATE`
(`demo.state`). Ctrl-C (or SIGTERM) stops every part.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from authgate.demo.children import (
    DemoError,
    free_port,
    refuse_taken,
    start,
    stop,
    wait_for_port,
)
from authgate.demo.provider import provider_config, start_provider
from authgate.demo.state import prepare_state_folder

CONFIG = Path("config/demo.yaml")
PROVIDER_TEMPLATE = Path("config/demo/provider.json")
HOST = "demo.localhost"
START_TIMEOUT = 60.0  # seconds; a cold start on a busy laptop takes a few


def _step(text: str) -> None:
    print(f"demo: {text}", flush=True)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # runs the `finally` that stops the children


def _start_app(title: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    child = start([sys.executable, "-m", "authgate.demo.whoami", str(port), "127.0.0.1", title])
    return child, f"http://127.0.0.1:{port}"


def _banner(origin: str) -> str:
    return (
        f"\nauthgate demo is ready: open {origin}/\n"
        f"  Handbook       {origin}/         any employee (alice/alice or bob/bob)\n"
        f"  Admin console  {origin}/admin/   admins only (alice); bob sees the denied page\n"
        f"  Sign out       {origin}/.authgate/logout\n"
        "Ctrl-C stops the demo.\n"
    )


def run(port: int) -> int:
    state = Path(os.environ.get("AUTHGATE_DEMO_STATE") or ".demo").resolve()
    prepare_state_folder(state)
    origin = f"http://{HOST}:{port}"
    children: list[subprocess.Popen[bytes]] = []
    try:
        refuse_taken(port)
        _step("starting the sign-in service (the test bed's OpenID Provider)")
        template = json.loads(PROVIDER_TEMPLATE.read_text(encoding="utf-8"))
        provider_file = state / "provider.json"
        provider_file.write_text(json.dumps(provider_config(template, origin)), encoding="utf-8")
        provider, issuer = start_provider(provider_file, START_TIMEOUT)
        children.append(provider)
        _step(f"starting the two apps (sign-in service at {issuer})")
        handbook, handbook_url = _start_app("Handbook")
        admin, admin_url = _start_app("Admin console")
        children += [handbook, admin]
        _step(f"starting the gateway on 127.0.0.1:{port}, waiting until it listens")
        env = {
            **os.environ,
            "AUTHGATE_LISTEN": f"127.0.0.1:{port}",
            "AUTHGATE_DEMO_STATE": str(state),
            "AUTHGATE_DEMO_ISSUER": issuer,
            "AUTHGATE_DEMO_UPSTREAM": handbook_url,
            "AUTHGATE_DEMO_ADMIN_UPSTREAM": admin_url,
        }
        gateway = start([sys.executable, "-m", "authgate", "serve", "-c", str(CONFIG)], env)
        children.append(gateway)
        wait_for_port(port, gateway, "the gateway", START_TIMEOUT)
        print(_banner(origin), flush=True)
        return gateway.wait()
    except DemoError as problem:
        print(f"demo: {problem}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(children)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m authgate.demo")
    parser.add_argument("--port", type=int, default=8080, help="the gateway's port (8080)")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    return run(parser.parse_args().port)


raise SystemExit(main())
