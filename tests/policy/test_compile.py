"""Policies compile once at load; every mistake comes out with its key path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError, parse_key_path
from authgate.config.loader import load_config, load_source
from authgate.policy.compile import (
    PolicyError,
    compile_policy,
    compile_route_policy,
    compile_step_up,
    policy_problems,
)
from authgate.policy.criteria.schedule import compile_hours
from tests.policy.personas import policy

FILES = Path(__file__).parent / "files"


def test_shape_mistakes_are_reported_with_key_path_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(FILES / "bad_shapes.yaml", {})
    found = {(p.line, p.key) for p in caught.value.problems}
    assert found == {
        (6, "routes[0].audience"),
        (9, "routes[0].policy.allow[0]"),  # two keys in one entry
        (12, "routes[0].policy.allow[1].and[0].email_domain[0]"),
        (13, "routes[0].policy.allow[1].and[1].claim"),  # two operators
        (14, "routes[0].policy.allow[2].not.country.in[0]"),
        (15, "routes[0].policy.allow[3].grups"),
        (17, "routes[0].policy.deny[0].time.days[0]"),
        (18, "routes[0].policy.deny[1].or"),
        (19, "routes[0].step_up.paths[0]"),
        (19, "routes[0].step_up.max_age"),
        (20, "routes[0].consent.require"),
        (20, "routes[0].consent.url"),
    }


def test_two_keys_in_an_entry_suggest_and() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(FILES / "bad_shapes.yaml", {})
    message = next(p.message for p in caught.value.problems if p.key == "routes[0].policy.allow[0]")
    assert "['groups', 'roles']" in message and "and: [...]" in message


def test_compile_problems_are_all_reported_with_key_paths() -> None:
    config, source = load_source(FILES / "bad_compile.yaml", {})
    problems = policy_problems(config)
    keys = [p.key for p in problems]
    assert keys == [
        "routes[1].policy.allow[0].and[0].time.tz",
        "routes[1].policy.allow[0].and[0].time.hours",
        "routes[1].policy.allow[0].and[1].path[0]",
        "routes[1].policy.deny[0].ip[1]",
        "routes[1].policy.deny[0].ip[2]",
        "routes[1].step_up[1].paths[0]",
    ]
    assert "host bits set" in problems[3].message
    # the snapshot builder locates them by key path: each resolves to its line
    lines = [source.line_for(parse_key_path(key) or ()) for key in keys]
    assert lines == [14, 14, 15, 17, 17, 21]


def test_policy_error_carries_every_problem_relative_to_the_route() -> None:
    config = policy(deny=[{"ip": ["10.0.0.1/8"]}, {"time": {"days": ["mon"], "tz": "Nowhere"}}])
    with pytest.raises(PolicyError) as caught:
        compile_policy("hr", config, audience=None)
    assert caught.value.key == "policy.deny[0].ip[0]"
    assert [key for key, _ in caught.value.problems] == [
        "policy.deny[0].ip[0]",
        "policy.deny[1].time.tz",
    ]


def test_a_valid_config_has_no_policy_problems() -> None:
    config = load_config(Path(__file__).parents[2] / "config" / "example.yaml", {})
    assert policy_problems(config) == []
    assert all(compile_route_policy(route) for route in config.routes)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("09:00-18:00", (540, 1080)),
        ("22:00-06:00", (1320, 360)),
        ("00:00-24:00", (0, 1440)),
        (" 08:30 - 12:15 ", (510, 735)),
    ],
)
def test_hours(text: str, minutes: tuple[int, int]) -> None:
    assert compile_hours(text) == minutes


@pytest.mark.parametrize(
    "text",
    [
        "9-17",
        "09:00",
        "24:00-02:00",
        "09:60-10:00",
        "10:00-24:01",
        "09:00-09:00",
        "9:00-17:00",
        "09:00-25:00",
    ],
)
def test_bad_hours(text: str) -> None:
    with pytest.raises(ValueError):
        compile_hours(text)


@pytest.mark.parametrize("zone", ["Nowhere/City", "Europe", "../etc/passwd", "", "UTC+2"])
def test_unknown_zones(zone: str) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy("r", policy(allow=[{"time": {"days": ["mon"], "tz": zone}}]), audience=None)
    assert caught.value.key == "policy.allow[0].time.tz"


def test_step_up_keys_follow_the_written_shape() -> None:
    from authgate.config.schema_policy import StepUpConfig

    single = StepUpConfig.model_validate({"paths": ["/a/**x*/**"], "acr": "gold"})
    with pytest.raises(PolicyError) as caught:
        compile_step_up("hr", single)
    assert caught.value.key == "step_up.paths[0]"
    rules = compile_step_up("hr", [StepUpConfig(acr="gold"), StepUpConfig(max_age=60.0)])
    assert [rule.rule for rule in rules] == ["routes[hr].step_up[0]", "routes[hr].step_up[1]"]


def test_default_policies_get_their_own_rule_paths() -> None:
    compiled = compile_policy("hr", None, audience="workforce")
    assert compiled.source == "audience"
    assert compiled.allow[0].path == "routes[hr].default[workforce].allow[0]"
    assert compile_policy("x", None, audience=None).allow[0].path == "routes[x].default.allow[0]"
    assert compile_policy("x", policy(), audience="workforce").source == "route"


@pytest.mark.parametrize(
    "entry",
    [
        {"authenticated": False},
        {"groups": []},
        {"groups": [""]},
        {"claim": {"path": "a"}},
        {"claim": {"path": "a", "equals": None}},
        {"country": {}},
        {"country": {"in": ["FR"], "not_in": ["US"]}},
        {"time": {"tz": "UTC"}},
        {"risk": {"below": "high"}},
        {"risk": {"below": float("nan")}},
        {"method": ["GE T"]},
        {"path": ["admin/**"]},
        {"device": {}},
        {"auth_age": "0s"},
        {"not": [{"groups": ["a"]}]},
        {"and": {"groups": ["a"]}},
        {"email": ["not-an-address"]},
    ],
)
def test_entry_shape_errors(entry: dict[str, object]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        policy(allow=[entry])


@pytest.mark.parametrize(
    "block",
    [{}, {"paths": ["/x"]}, {"acr": ""}, {"max_age": "0s"}, {"amr": []}],
)
def test_step_up_shape_errors(block: dict[str, object]) -> None:
    from pydantic import ValidationError

    from authgate.config.schema_policy import StepUpConfig

    with pytest.raises(ValidationError):
        StepUpConfig.model_validate(block)
