"""`${VAR}` interpolation: the expansion table, and what reaches the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.interpolation import interpolate, interpolate_tree
from authgate.config.loader import load_config
from authgate.config.yaml_source import Data, Source

FILES = Path(__file__).parent / "files"
ENV = {"HOST": "app.example.com", "PORT": "8443", "EMPTY": "", "DOLLAR": "a$b"}
MALFORMED = "malformed reference"


@pytest.mark.parametrize(
    ("text", "expected", "problems"),
    [
        pytest.param("${HOST}", "app.example.com", [], id="set"),
        pytest.param("${NOPE:-fallback}", "fallback", [], id="default-when-unset"),
        pytest.param("${EMPTY:-fallback}", "fallback", [], id="default-when-empty"),
        pytest.param("${HOST:-fallback}", "app.example.com", [], id="set-beats-default"),
        pytest.param("${NOPE:-}", "", [], id="empty-default"),
        pytest.param("${NOPE:-a:b-c$d}", "a:b-c$d", [], id="default-with-colon-dash-dollar"),
        pytest.param("${EMPTY}", "", [], id="set-but-empty"),
        pytest.param("${DOLLAR}", "a$b", [], id="value-not-reexpanded"),
        pytest.param(
            "${NOPE}", "${NOPE}", ["environment variable NOPE is not set"], id="missing"
        ),
        pytest.param(
            "${A}-${B}",
            "${A}-${B}",
            ["environment variable A is not set", "environment variable B is not set"],
            id="two-missing",
        ),
        pytest.param("$${HOST}", "${HOST}", [], id="escape"),
        pytest.param("$${NOPE}", "${NOPE}", [], id="escape-of-unset-is-fine"),
        pytest.param("https://${HOST}:${PORT}/x", "https://app.example.com:8443/x", [], id="several"),
        pytest.param("$${HOST}=${HOST}", "${HOST}=app.example.com", [], id="escape-and-ref"),
        pytest.param("$HOST $$ $ {HOST}", "$HOST $$ $ {HOST}", [], id="not-references"),
        pytest.param("${1X}", "${1X}", [MALFORMED], id="bad-name"),
        pytest.param("${HOST", "${HOST", [MALFORMED], id="unclosed"),
        pytest.param("${HO ST}", "${HO ST}", [MALFORMED], id="space-in-name"),
        pytest.param("${A:-${B}}", "${A:-${B}}", [MALFORMED], id="nesting-unsupported"),
        pytest.param("", "", [], id="empty-string"),
    ],
)
def test_interpolate(text: str, expected: str, problems: list[str]) -> None:
    result, found = interpolate(text, ENV)
    assert result == expected
    assert [problem[: len(want)] for problem, want in zip(found, problems)] == problems
    assert len(found) == len(problems)


@pytest.mark.parametrize(
    "value",
    [8080, 1.5, True, False, None, "plain", "$ not a reference"],
    ids=repr,
)
def test_values_without_references_are_untouched(value: Data) -> None:
    source = Source("x.yaml")
    assert interpolate_tree({"key": value}, {}, source) == {"key": value}
    assert source.problems == []


def test_keys_are_not_interpolated() -> None:
    source = Source("x.yaml")
    assert interpolate_tree({"${HOST}": "${HOST}"}, ENV, source) == {"${HOST}": "app.example.com"}


def test_interpolated_strings_are_coerced_by_the_schema() -> None:
    config = load_config(FILES / "interpolated.yaml", {"LISTEN_PORT": "9000", "WEB_HOST": "w.test"})
    assert config.server.listen == "127.0.0.1:9000"
    assert config.server.upstream_pool_size == 32  # "32" from the default, as an int
    assert config.server.upstream_pool_size_per_host == 8  # YAML int, no interpolation
    assert config.routes[0].match.host == "w.test"
    assert str(config.routes[0].upstream) == "http://10.0.0.1:8000/"
    assert config.routes[0].public == ["/${literal}", "/$$"]
    assert config.routes[0].preserve_host is False


def test_environment_overrides_defaults() -> None:
    environ = {"LISTEN_PORT": "1", "WEB_HOST": "w", "POOL_SIZE": "7", "PRESERVE_HOST": "true"}
    config = load_config(FILES / "interpolated.yaml", environ)
    assert config.server.upstream_pool_size == 7
    assert config.routes[0].preserve_host is True


def test_every_unset_variable_is_reported_once_at_its_line() -> None:
    path = str(FILES / "unset_variables.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}:2 server.listen: environment variable LISTEN is not set",
        f"{path}:6 routes[0].upstream: environment variable CORP_UPSTREAM is not set",
        f"{path}:7 routes[0].upstream_timeouts.read: environment variable READ_TIMEOUT is not set",
    ]


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTEN_PORT", "9001")
    monkeypatch.setenv("WEB_HOST", "from-env.test")
    assert load_config(FILES / "interpolated.yaml").server.listen == "127.0.0.1:9001"
