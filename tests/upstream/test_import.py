"""Apps import `authgate.upstream` without loading the gateway (config, server, policy)."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import sys, authgate.upstream; "
    "print(sorted(m for m in sys.modules if m.split('.')[0] in "
    "{'authgate', 'pydantic', 'yaml', 'redis', 'uvloop'}))"
)


def test_upstream_loads_only_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = eval(result.stdout)  # a printed list of module names
    assert all(m == "authgate" or m.startswith("authgate.upstream") for m in loaded), loaded
