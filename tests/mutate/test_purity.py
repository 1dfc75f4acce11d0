"""Template compilation and value encoding stay pure: config loading and
`authgate explain` compile templates, and must not pull in an I/O or crypto library."""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = {"aiohttp", "redis", "authlib", "jwt", "yarl", "multidict", "cryptography"}


@pytest.mark.parametrize("module", ["authgate.mutate.templates", "authgate.mutate.encoding"])
def test_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import {module}, sys; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(IO_LIBRARIES)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
