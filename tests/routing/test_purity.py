"""`authgate.routing` stays pure: importing it loads no I/O library (STYLE.md lesson 4)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = (
    "import authgate.routing, sys; "
    "print([m for m in sys.modules if m.split('.')[0] in {'aiohttp','redis','authlib','yarl'}])"
)


def test_routing_imports_no_io_library() -> None:
    # A fresh interpreter: this test process has aiohttp loaded by other tests.
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
