"""`authgate check-config`: exit codes and output, in process and as a real command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authgate.config.check import check_config, summary
from authgate.config.loader import load_config

REPO = Path(__file__).parents[2]
FILES = Path(__file__).parent / "files"
EXAMPLE = "config/example.yaml"
CONSOLE_SCRIPT = Path(sys.executable).parent / "authgate"


# What an operator gives for the example's placeholders (refused as they are:
# tests/hardening/test_hygiene.py).
SECRETS = {
    "AUTHGATE_COOKIE_SECRET": "check-config-test-cookie-secret-0123456789",
    "CORP_CLIENT_SECRET": "corp-client-secret",
    "AUTHGATE_PSEUDONYM_KEY": "check-config-test-pseudonym-key-0123456789",
    "AUTHGATE_AUTHZEN_TOKEN": "check-config-test-authzen-token-0123456789",
}


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # An empty environment: the example must not depend on any other variable.
    # PYTHONPATH only, so that the code under test is the code that runs.
    env = {**{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}, **(env or {})}
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param((sys.executable, "-m", "authgate"), id="python-m"),
        pytest.param((str(CONSOLE_SCRIPT),), id="console-script"),
    ],
)
def test_example_passes_once_its_secrets_are_given(command: tuple[str, ...]) -> None:
    # --config-only: the example's TLS, GeoIP and log files are not on this machine
    # (the host checks: tests/operators/test_check_config_one_pass.py).
    result = run(*command, "check-config", "--config-only", EXAMPLE, env=SECRETS)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{EXAMPLE}: OK — 6 routes, 6 hosts, listen 0.0.0.0:8080\n"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param((sys.executable, "-m", "authgate"), id="python-m"),
        pytest.param((str(CONSOLE_SCRIPT),), id="console-script"),
    ],
)
def test_bad_file_prints_every_problem_and_fails(command: tuple[str, ...]) -> None:
    bad = "tests/config/files/bad.yaml"
    result = run(*command, "check-config", bad)
    assert (result.returncode, result.stderr) == (1, "")
    assert [line.split(" ", 1)[0] for line in result.stdout.splitlines()] == [
        f"{bad}:2", f"{bad}:3", f"{bad}:5", f"{bad}:9", f"{bad}:10"
    ]


def test_in_process_problems_one_per_line() -> None:
    out = io.StringIO()
    path = str(FILES / "three_mistakes.yaml")
    assert check_config(path, out) == 1
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [f"{path}:4", f"{path}:8", f"{path}:10"]


def test_missing_file_fails() -> None:
    out = io.StringIO()
    assert check_config("no/such/file.yaml", out) == 1
    assert out.getvalue() == "no/such/file.yaml: cannot read the file: No such file or directory\n"


def test_summary_counts_distinct_hosts_case_insensitively() -> None:
    config = load_config(FILES / "minimal.yaml", {})
    assert summary("m.yaml", config) == "m.yaml: OK — 1 route, 2 hosts, listen 127.0.0.1:8080"
