"""The rate-limit core imports no I/O library (STYLE.md lesson 4).

Only `redis_limiter` and `redis_regulation` may load redis; everything the request
path evaluates — the algorithm, keys, headers, memory state, shedding — must be
importable, and timeable, without it. Fresh interpreters, as in tests/test_purity.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "authgate.ratelimit",
    "authgate.ratelimit.gcra",
    "authgate.ratelimit.keys",
    "authgate.ratelimit.headers",
    "authgate.ratelimit.limiter",
    "authgate.ratelimit.regulation",
    "authgate.ratelimit.shedding",
    "authgate.ratelimit.route_limits",
    "authgate.config.schema_limits",
]
IO_LIBRARIES = {"aiohttp", "redis", "authlib", "jwt", "yarl", "multidict"}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import {module}, sys; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(IO_LIBRARIES)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
