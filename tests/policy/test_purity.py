"""authgate.policy is pure: importing any of it loads no I/O library (STYLE.md lesson 4).

Decisions are evaluated in microseconds in the request path and by `authgate
explain`; they must be plain Python. Each module is imported in a fresh interpreter
(this test process has aiohttp loaded by other tests).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import authgate.policy
import authgate.policy.criteria

IO_LIBRARIES = {"aiohttp", "redis", "authlib", "jwt", "yarl", "multidict", "cryptography"}
MODULES = sorted(
    {"authgate.policy", "authgate.policy.criteria", "authgate.config.schema_policy"}
    | {info.name for info in pkgutil.walk_packages(authgate.policy.__path__, "authgate.policy.")}
)


def test_every_module_is_listed() -> None:
    assert "authgate.policy.explain_cli" in MODULES
    assert "authgate.policy.criteria.schedule" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import {module}, sys; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(IO_LIBRARIES)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
