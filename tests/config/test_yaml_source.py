"""Strict YAML parsing: lines per key path, duplicates, tags, the YAML 1.2 core schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config import yaml_source
from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.config.yaml_source import Data, Source, parse_yaml

FILES = Path(__file__).parent / "files"


def parse(text: str) -> tuple[Data, list[str]]:
    source = Source("t.yaml")
    data = parse_yaml(text, source)
    return data, [str(problem) for problem in source.problems]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("v: NO", "NO", id="norway-is-a-string"),
        pytest.param("v: on", "on", id="on-is-a-string"),
        pytest.param("v: yes", "yes", id="yes-is-a-string"),
        pytest.param("v: true", True, id="true"),
        pytest.param("v: FALSE", False, id="false"),
        pytest.param("v: 010", 10, id="leading-zero-is-decimal"),
        pytest.param("v: 0o10", 8, id="octal"),
        pytest.param("v: 0x1f", 31, id="hex"),
        pytest.param("v: -3", -3, id="negative"),
        pytest.param("v: 1:30", "1:30", id="no-sexagesimal"),
        pytest.param("v: 1_000", "1_000", id="no-underscores"),
        pytest.param("v: 1.5", 1.5, id="float"),
        pytest.param("v: 1e3", 1000.0, id="exponent"),
        pytest.param("v: .inf", float("inf"), id="infinity"),
        pytest.param("v: ~", None, id="tilde"),
        pytest.param("v: null", None, id="null"),
        pytest.param("v:", None, id="empty"),
        pytest.param("v: '8080'", "8080", id="quoted-stays-string"),
        pytest.param("v: !!str 8080", "8080", id="explicit-str"),
        pytest.param("v: !!int '7'", 7, id="explicit-int"),
        pytest.param("v: 2024-01-01", "2024-01-01", id="no-timestamps"),
        pytest.param("v: [a, {b: c}]", ["a", {"b": "c"}], id="flow"),
        pytest.param("a: &x [1]\nv: *x", [1], id="alias"),
    ],
)
def test_scalars_follow_the_core_schema(text: str, value: Data) -> None:
    data, problems = parse(text)
    assert problems == []
    assert isinstance(data, dict)
    assert data["v"] == value
    assert type(data["v"]) is type(value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "a: 1\nv: !!python/object/apply:os.system [true]",
            "t.yaml:2 v: YAML tag !!python/object/apply:os.system is not allowed",
            id="python-object",
        ),
        pytest.param("v: !!binary aGk=", "t.yaml:1 v: YAML tag !!binary is not allowed", id="binary"),
        pytest.param("v: !!set {a}", "t.yaml:1 v: YAML tag !!set is not allowed", id="set"),
        pytest.param("v: !custom x", "t.yaml:1 v: YAML tag !custom is not allowed", id="local-tag"),
        pytest.param("v: !!int abc", "t.yaml:1 v: not a valid !!int: 'abc'", id="bad-explicit-int"),
        pytest.param("v: &x [*x]", "t.yaml:1 v[0]: recursive alias", id="recursive-alias"),
        pytest.param("? [a]\n: 1", "t.yaml:1: mapping keys must be scalars", id="complex-key"),
        pytest.param(
            "a: 1\na: 2", "t.yaml:2 a: duplicate key (first given on line 1)", id="duplicate"
        ),
        pytest.param(
            "a: 1\n'a': 2", "t.yaml:2 a: duplicate key (first given on line 1)", id="duplicate-quoted"
        ),
        pytest.param("", "t.yaml: the file is empty", id="empty-file"),
        pytest.param("# only a comment\n", "t.yaml: the file is empty", id="only-comments"),
        pytest.param(
            "a: 1\n---\nb: 2",
            "t.yaml:2: invalid YAML: expected a single document in the stream (from line 1),"
            " but found another document",
            id="two-documents",
        ),
        pytest.param(
            "a:\n\t- x",
            "t.yaml:2: invalid YAML: while scanning for the next token, found character '\\t'"
            " that cannot start any token",
            id="tab",
        ),
    ],
)
def test_rejected(text: str, problem: str) -> None:
    assert parse(text)[1] == [problem]


def test_alias_bomb_is_a_problem_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "MAX_NODES", 1000)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcd", "bcde")
    )
    data, problems = parse(bomb)
    assert problems == ["t.yaml:1: too many nodes (an alias bomb?)"]
    assert data is None


def test_lines_are_recorded_per_key_path() -> None:
    source = Source("t.yaml")
    parse_yaml("a:\n  b: 1\n  c:\n    - x\n    -\n      d: 2\ne: [1,\n  2]\n", source)
    assert source.lines == {
        (): 1,
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 6,
        ("a", "c", 1, "d"): 6,
        ("e",): 7,
        ("e", 0): 7,
        ("e", 1): 8,
    }


def test_syntax_error_reports_its_line() -> None:
    path = str(FILES / "syntax_error.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}:6: invalid YAML: while parsing a flow mapping (from line 5),"
        " expected ',' or '}', but got ':'"
    ]


def test_duplicate_keys_are_all_reported() -> None:
    path = str(FILES / "duplicate_keys.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path}:3 server.listen: duplicate key (first given on line 2)",
        f"{path}:8 routes[0].match: duplicate key (first given on line 6)",
    ]
