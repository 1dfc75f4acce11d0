"""`python -m authgate.demo`: provider, whoami app and gateway, for `make demo`.

Starts the test bed's OpenID Provider (`testbed/oidc`, users alice/alice and bob/bob)
on 127.0.0.1:9001, the whoami app on 127.0.0.1:9000 and the gateway with
`config/demo.yaml` on 127.0.0.1:8080 (memory store). The two helpers are child
processes stopped with the gateway. Its cookie secret and assertion key are its
own, generated once in `.demo/` (`demo.state`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from authgate.demo.state import prepare_demo_state
from authgate.server.run import serve

CONFIG = Path("config/demo.yaml")
PROVIDER = [
    "node",
    "testbed/oidc/provider.mjs",
    "config/demo/provider.json",
]
UPSTREAM = [sys.executable, "-m", "authgate.demo.whoami", "9000"]


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.PIPE)


def main() -> int:
    prepare_demo_state(Path("."))
    children = [_start(PROVIDER), _start(UPSTREAM)]
    time.sleep(1.0)  # the provider answers discovery in ~0.5 s
    print(
        "\nauthgate demo: open http://demo.localhost:8080/ and sign in as alice/alice "
        "or bob/bob (http://demo.localhost:8080/.authgate/logout to sign out)\n",
        flush=True,
    )
    try:
        return serve(str(CONFIG))
    finally:
        for child in children:
            child.terminate()
            child.wait(10)


raise SystemExit(main())
