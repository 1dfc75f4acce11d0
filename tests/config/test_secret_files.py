"""`NAME_file` keys: the secret is read from the file and replaces `NAME`."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.config.secret_files import resolve_secret_files
from authgate.config.yaml_source import Data, Source

FILES = Path(__file__).parent / "files"


def resolve(data: Data) -> tuple[Data, list[str]]:
    source = Source("x.yaml")
    resolved = resolve_secret_files(data, FILES, source)
    return resolved, [f"{problem.key}: {problem.message}" for problem in source.problems]


@pytest.mark.parametrize(
    ("data", "expected", "problems"),
    [
        pytest.param(
            {"secret_file": "secrets/key.txt"}, {"secret": "not-a-real-key"}, [], id="one-newline-stripped"
        ),
        pytest.param(
            {"secret_file": "secrets/two_lines.txt"},
            {"secret": "line one\nline two\n"},
            [],
            id="only-one-newline-stripped",
        ),
        pytest.param(
            {"secret_file": str(FILES / "secrets/key.txt")},
            {"secret": "not-a-real-key"},
            [],
            id="absolute-path",
        ),
        pytest.param(
            {"keys_file": ["secrets/key.txt", "secrets/key.txt"]},
            {"keys": ["not-a-real-key", "not-a-real-key"]},
            [],
            id="list-of-files",
        ),
        pytest.param(
            {"a": [{"b": {"token_file": "secrets/key.txt"}}]},
            {"a": [{"b": {"token": "not-a-real-key"}}]},
            [],
            id="nested-in-lists",
        ),
        pytest.param({"file": "x", "_file": "y"}, {"file": "x", "_file": "y"}, [], id="not-suffixed"),
        pytest.param(
            {"secret": "inline", "secret_file": "secrets/key.txt"},
            {"secret": "inline"},
            ["secret_file: give either secret or secret_file, not both"],
            id="both-given",
        ),
        pytest.param(
            {"secret_file": "secrets/missing.txt"},
            {"secret": ""},
            ["secret_file: cannot read 'secrets/missing.txt': No such file or directory"],
            id="missing-file",
        ),
        pytest.param(
            {"secret_file": "secrets"},
            {"secret": ""},
            ["secret_file: cannot read 'secrets': Is a directory"],
            id="directory",
        ),
        pytest.param(
            {"secret_file": 3},
            {"secret": None},
            ["secret_file: must be a file path, or a list of file paths"],
            id="not-a-path",
        ),
    ],
)
def test_resolve(data: Data, expected: Data, problems: list[str]) -> None:
    assert resolve(data) == (expected, problems)


def test_secret_reaches_the_schema() -> None:
    config = load_config(FILES / "secret_ok.yaml", {})
    assert config.providers[0].client_secret == "not-a-real-key"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("secret_both.yaml", "5 server.tls.key_file: give either key or key_file, not both"),
        (
            "secret_unreadable.yaml",
            "4 server.tls.key_file: cannot read 'secrets/missing.txt': No such file or directory",
        ),
        # The schema has no `client_secret` here: the problem names the key as typed.
        ("secret_unknown_key.yaml", "5 routes[0].client_secret_file: unknown key"),
    ],
)
def test_problems_name_the_file_key_on_its_line(name: str, expected: str) -> None:
    path = str(FILES / name)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [str(problem) for problem in caught.value.problems] == [f"{path}:{expected}"]


def test_unset_variable_in_path_is_reported_once() -> None:
    source = Source("x.yaml")
    source.lines[("secret_file",)] = 1
    source.report(("secret_file",), "environment variable DIR is not set", stand_in=True)
    assert resolve_secret_files({"secret_file": "${DIR}/x"}, FILES, source) == {"secret": ""}
    assert len(source.problems) == 1
