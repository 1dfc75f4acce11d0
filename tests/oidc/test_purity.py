"""The pure parts of `authgate.oidc` load no I/O or JOSE library (STYLE.md lesson 4).

Login bookkeeping, claims mapping, discovery parsing and the error vocabulary are
evaluated in the request path and in `authgate explain`; they must stay plain Python.
Each module is imported in a fresh interpreter (this process has aiohttp loaded).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "authgate.oidc",
    "authgate.oidc.errors",
    "authgate.oidc.flow",
    "authgate.oidc.claims",
    "authgate.oidc.metadata",
]
IO_LIBRARIES = {"aiohttp", "redis", "authlib", "jwt", "yarl", "multidict", "cryptography"}


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
