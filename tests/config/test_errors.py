"""`ConfigProblem` printing and key paths in the user's spelling."""

from __future__ import annotations

import pytest

from authgate.config.errors import (
    ConfigError,
    ConfigProblem,
    KeyPath,
    format_key_path,
    parse_key_path,
)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("routes",), "routes"),
        (("routes", 2, "upstream"), "routes[2].upstream"),
        (("routes", 0, "policy", "allow", 1, "email"), "routes[0].policy.allow[1].email"),
        (("headers", "X-Employee-Id"), "headers.X-Employee-Id"),
        (("claims", "realm_access.roles"), 'claims["realm_access.roles"]'),
        (("a b", 'q"uote'), '["a b"]["q\\"uote"]'),
    ],
)
def test_key_paths_round_trip(path: KeyPath, text: str) -> None:
    assert format_key_path(path) == text
    assert parse_key_path(text) == path


@pytest.mark.parametrize("text", ["routes[x]", "routes[2]upstream", "a..b", "[", "a b"])
def test_parse_rejects_what_format_never_writes(text: str) -> None:
    assert parse_key_path(text) is None


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (
            ConfigProblem("config.yaml", 42, "routes[2].upstream", "not a URL"),
            "config.yaml:42 routes[2].upstream: not a URL",
        ),
        (ConfigProblem("conf/gw.yaml", 3, "", "invalid YAML: x"), "conf/gw.yaml:3: invalid YAML: x"),
        (ConfigProblem("/etc/a.yaml", None, "", "cannot read"), "/etc/a.yaml: cannot read"),
        (ConfigProblem("a.yaml", None, "routes", "m"), "a.yaml routes: m"),
    ],
)
def test_problem_text(problem: ConfigProblem, text: str) -> None:
    assert str(problem) == text


def test_error_holds_every_problem() -> None:
    problems = [ConfigProblem("a.yaml", 1, "x", "one"), ConfigProblem("a.yaml", 2, "y", "two")]
    error = ConfigError(iter(problems))
    assert error.problems == tuple(problems)
    assert str(error) == "a.yaml:1 x: one\na.yaml:2 y: two"
