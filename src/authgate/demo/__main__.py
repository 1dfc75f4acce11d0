"""`python -m authgate.demo`: the whoami upstream on :9000 and the gateway on :8080.

Runs `config/demo.yaml`; the upstream is a child process stopped with the gateway.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from authgate.server.run import serve

CONFIG = Path("config/demo.yaml")
UPSTREAM_PORT = 9000


def main() -> int:
    upstream = subprocess.Popen(
        [sys.executable, "-m", "authgate.demo.whoami", str(UPSTREAM_PORT)]
    )
    print(
        "authgate demo: open http://demo.localhost:8080/public/hello "
        "(or: curl -H 'Host: demo.localhost' http://127.0.0.1:8080/public/hello)",
        flush=True,
    )
    try:
        return serve(str(CONFIG))
    finally:
        upstream.terminate()
        upstream.wait(10)


raise SystemExit(main())
