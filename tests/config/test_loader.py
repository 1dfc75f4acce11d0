"""`load_config`: every problem at once, each with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config

FILES = Path(__file__).parent / "files"
REPO = Path(__file__).parents[2]


def problems(name: str) -> list[str]:
    """The problems of fixture `name`, with the file shown as `F`."""
    path = str(FILES / name)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return [str(problem).replace(path, "F", 1) for problem in caught.value.problems]


def test_three_mistakes_on_three_lines_are_all_reported() -> None:
    assert problems("three_mistakes.yaml") == [
        "F:4 server.shutdown_timout: unknown key",
        "F:8 routes[0].upstream: not a URL: 'not a url' (relative URL without a base)",
        "F:10 routes[0].upstream_timeouts.connect: not a duration: 'soon'"
        " (write e.g. 250ms, 30s, 5m, 8h, 7d)",
    ]


def test_lines_inside_the_list_of_routes() -> None:
    assert problems("routes_lines.yaml") == [
        "F:10 routes[1].match.methods: not an HTTP method: 'PO ST'",
        "F:14 routes[1].public[1]: must be a string, got 42",
        "F:15 routes[1].public[2]: must be a string, got a list",
        # A missing key is reported on the line of the mapping that lacks it.
        "F:17 routes[2].match: missing required key",
        "F:20 routes[3].id: missing required key",
        "F:20 routes[3].match: give at most one of path_prefix, path_glob, path_regex"
        " (got ['path_prefix', 'path_glob'])",
    ]


def test_union_members_are_merged_into_one_message() -> None:
    assert problems("unions.yaml") == [
        "F:3 decision_log.sinks[0]: must be 'stdout' or a mapping, got 'stdot'",
        # A mapping was meant as a sink entry: only that member's errors are shown.
        "F:4 decision_log.sinks[1].fil: unknown key",
        "F:5 decision_log.sinks[2]: must be 'stdout' or a mapping, got 3",
        "F:8 routes[0].match.host[1]: must be a string, got 7",
    ]


def test_other_validation_problems_are_worded_for_operators() -> None:
    assert problems("bad.yaml") == [
        "F:2 server.listen: not a listen address: 'localhost' (write host:port, e.g. 0.0.0.0:8080)",
        "F:3 server.event_loop: must be 'uvloop' or 'asyncio', got 'trio'",
        "F:5 decision_log.sinks[1].path: unknown key",
        "F:9 routes[0].upstream: not a URL: 'ftp://10.0.0.1' (URL scheme should be 'http' or 'https')",
        "F:10 routes[1].match: missing required key",
    ]


def test_duplicate_route_ids_name_both_indexes() -> None:
    assert problems("duplicate_route_ids.yaml") == [
        "F:1 routes: duplicate route id 'web' (routes[0] and routes[2])"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("does_not_exist.yaml", "F: cannot read the file: No such file or directory"),
        ("secrets", "F: cannot read the file: Is a directory"),
        ("not_utf8.yaml", "F: not UTF-8 text (byte 16)"),
        ("not_a_mapping.yaml", "F:1: the file must be a mapping of top-level keys (server, routes, ...)"),
    ],
)
def test_unusable_files(name: str, expected: str) -> None:
    assert problems(name) == [expected]


def test_file_is_shown_as_the_user_gave_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigError) as caught:
        load_config("tests/config/files/../files/three_mistakes.yaml", {})
    first = str(caught.value.problems[0])
    assert first.startswith("tests/config/files/../files/three_mistakes.yaml:4 ")


def test_error_text_is_every_problem_one_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(FILES / "three_mistakes.yaml", {})
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]
    assert len(caught.value.problems) == 3


def test_a_valid_file_loads() -> None:
    config = load_config(FILES / "minimal.yaml", {})
    assert [route.id for route in config.routes] == ["web"]
    assert config.server.listen == "127.0.0.1:8080"
