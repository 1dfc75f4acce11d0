"""`observability.tracing`: the defaults, and bad values named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.ops.preflight import host_findings

ROUTE = """
routes:
  - id: web
    match: {host: web.test}
    upstream: http://127.0.0.1:9
"""


def problems(tmp_path: Path, tracing: str) -> list[str]:
    path = tmp_path / "authgate.yaml"
    path.write_text(f"observability:\n  tracing:\n{tracing}{ROUTE}")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return [str(problem).replace(str(path), "F", 1) for problem in caught.value.problems]


def test_off_by_default_with_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(ROUTE)
    tracing = load_config(path, {}).observability.tracing
    assert not tracing.enabled
    assert (str(tracing.endpoint), tracing.service_name) == ("http://127.0.0.1:4318/v1/traces", "authgate")
    assert (tracing.sampler, tracing.ratio, tracing.export_delay, tracing.queue_size) == (
        "parent_based", 1.0, 5.0, 2048,
    )


def test_every_bad_value_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "    enabled: yes please\n"
        "    endpoint: http://tempo:4318\n"
        "    sampler: always\n"
        "    ratio: 1.5\n"
        "    export_delay: soon\n"
        "    samplr: ratio\n",
    )
    assert [line.split(" ", 2)[:2] for line in found] == [
        ["F:3", "observability.tracing.enabled:"],
        ["F:4", "observability.tracing.endpoint:"],
        ["F:5", "observability.tracing.sampler:"],
        ["F:6", "observability.tracing.ratio:"],
        ["F:7", "observability.tracing.export_delay:"],
        ["F:8", "observability.tracing.samplr:"],
    ]
    assert "http://tempo:4318/v1/traces" in found[1]  # says what to write instead
    assert found[5].endswith("unknown key")


def test_an_endpoint_with_a_query_is_refused(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "    endpoint: http://tempo:4318/v1/traces?x=1\n")
    assert found.startswith("F:3 observability.tracing.endpoint: ")


def test_enabled_without_the_extra_is_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(f"observability:\n  tracing:\n    enabled: true\n{ROUTE}")
    config = load_config(path, {})
    assert host_findings(config, ports=False).errors == []  # installed here (the test extra)
    monkeypatch.setattr("authgate.ops.preflight.OTEL_MODULES", ("opentelemetry.not_installed",))
    (problem,) = host_findings(config, ports=False).errors
    assert problem.key == "observability.tracing.enabled"
    assert "pip install 'authgate[otel]'" in problem.message
