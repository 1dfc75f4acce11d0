"""Parse the operator's YAML into plain data plus a line for every key path.

Contract: `parse_yaml(text, source)` returns plain data built from dicts, lists, str,
int, float, bool and None only, and fills `source.lines` with each key path
(`("routes", 2, "upstream")`) mapped to the 1-based line where the user wrote it. Every
problem found goes to `source.problems`; a syntax error stops parsing (returns None).
`Source` is shared by the later loading stages, which report their problems to it.

What is stricter than `yaml.safe_load`, and why:
- Duplicate keys are errors: PyYAML keeps the last one silently, so a second
  `policy:` under a route would quietly replace the first.
- Only the JSON-compatible tags (str, int, float, bool, null, seq, map) are accepted;
  anything else (`!!python/...`, `!!binary`, custom `!tags`) is rejected.
- Plain scalars resolve by the YAML 1.2 core schema, not YAML 1.1: `NO`, `on`, `yes`
  stay strings (country code Norway is not `False`), `010` is 10 and `1:30` is a
  string, not the sexagesimal 90.
- Mapping keys are always strings (the scalar as written), and must be scalars.
- Recursive aliases and alias bombs ("billion laughs") are problems, not hangs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from authgate.config.errors import ConfigProblem, KeyPath, format_key_path

Data = dict[str, "Data"] | list["Data"] | str | int | float | bool | None

_TAG = "tag:yaml.org,2002:"
# Enough for thousands of routes; far below what an alias bomb expands to.
MAX_NODES = 1_000_000


class _CoreSchemaLoader(yaml.SafeLoader):
    """SafeLoader whose implicit types follow the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _pattern, _first in (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
):
    _CoreSchemaLoader.add_implicit_resolver(
        _TAG + _tag, re.compile(rf"^(?:{_pattern})$"), list(_first)
    )


def _to_bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


def _to_null(text: str) -> None:
    if text not in ("~", "null", "Null", "NULL", ""):
        raise ValueError(text)


def _to_int(text: str) -> int:
    # int(text, 0) would reject "010"; YAML 1.2 reads it as decimal 10.
    return int(text, 0) if text[:2] in ("0o", "0x") else int(text)


def _to_float(text: str) -> float:
    return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))


_SCALARS: dict[str, Callable[[str], Data]] = {
    _TAG + "str": str,
    _TAG + "bool": _to_bool,
    _TAG + "null": _to_null,
    _TAG + "int": _to_int,
    _TAG + "float": _to_float,
}


@dataclass
class Source:
    """The file as the user wrote it: lines and spellings of key paths, and the
    problems found so far by every loading stage."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    # Paths whose last key was written differently by the user (`client_secret` that
    # came from `client_secret_file`), so problems name the key the user typed.
    spelled: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    # Paths whose value is a stand-in after a reported problem; later stages stay
    # quiet there, so one mistake is reported once, at its cause.
    stand_ins: set[KeyPath] = field(default_factory=set)

    def line_for(self, path: KeyPath) -> int | None:
        """Line of `path`, or of its nearest ancestor the file mentions."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def display(self, path: KeyPath) -> str:
        """The key path as the user wrote it."""
        shown = [self.spelled.get(path[: end + 1], key) for end, key in enumerate(path)]
        return format_key_path(tuple(shown))

    def report(
        self, path: KeyPath, message: str, *, stand_in: bool = False, line: int | None = None
    ) -> None:
        """Record a problem at `path` (on `line` when given, else where `path` is)."""
        where = self.line_for(path) if line is None else line
        self.problems.append(ConfigProblem(self.file, where, self.display(path), message))
        if stand_in:
            self.stand_ins.add(path)

    def covers(self, path: KeyPath) -> bool:
        """True when `path` or an ancestor already had a problem reported."""
        return any(path[:end] in self.stand_ins for end in range(len(path) + 1))


def parse_yaml(text: str, source: Source) -> Data:
    """Parse one YAML document into plain data, filling `source` on the way.

    Returns None, with a problem in `source`, when there is no usable document.
    """
    loader = _CoreSchemaLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        source.problems.append(_syntax_problem(source.file, error))
        return None
    except RecursionError:
        source.report((), "nesting is too deep")
        return None
    finally:
        loader.dispose()
    if root is None:
        source.report((), "the file is empty")
        return None
    try:
        return _Builder(source).build(root, ())
    except RecursionError:
        source.report((), "nesting is too deep", stand_in=True)
        return None


def _syntax_problem(file: str, error: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = error.problem_mark or error.context_mark
    line = None if mark is None else mark.line + 1
    # PyYAML's context reads as the first half of the sentence: "while parsing a
    # flow mapping (from line 5), expected ',' or '}', but got ':'". The context's
    # line matters: an unclosed `{` is only noticed lines later.
    context = error.context
    if context and error.context_mark is not None and error.context_mark.line + 1 != line:
        context = f"{context} (from line {error.context_mark.line + 1})"
    detail = ", ".join(part for part in (context, error.problem) if part)
    return ConfigProblem(file, line, "", f"invalid YAML: {detail}")


class _NodeBudgetExceeded(Exception):
    pass


class _Builder:
    """Walks the node graph once, recording lines and problems in `source`."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._open: set[int] = set()  # ids of nodes being built: detects alias cycles
        self._nodes = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Data:
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        try:
            return self._build(node, path)
        except _NodeBudgetExceeded:
            if path:
                raise
            self.source.report((), "too many nodes (an alias bomb?)", stand_in=True)
            return None

    def _build(self, node: yaml.Node, path: KeyPath) -> Data:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _NodeBudgetExceeded
        if id(node) in self._open:
            self.source.report(path, "recursive alias", stand_in=True)
            return None
        self._open.add(id(node))
        try:
            return self._build_kind(node, path)
        finally:
            self._open.discard(id(node))

    def _build_kind(self, node: yaml.Node, path: KeyPath) -> Data:
        if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALARS:
            return self._scalar(node, path)
        tag = node.tag.replace(_TAG, "!!", 1) if node.tag.startswith(_TAG) else node.tag
        self.source.report(path, f"YAML tag {tag} is not allowed", stand_in=True)
        return None

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Data:
        try:
            return _SCALARS[node.tag](node.value)
        except ValueError:
            tag = node.tag.removeprefix(_TAG)
            self.source.report(path, f"not a valid !!{tag}: {node.value!r}", stand_in=True)
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Data]:
        result: dict[str, Data] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.source.report(path, "mapping keys must be scalars", line=line)
                continue
            key = str(key_node.value)
            if key in result:
                first = self.source.lines[path + (key,)]
                message = f"duplicate key (first given on line {first})"
                self.source.report(path + (key,), message, line=line)
                continue
            self.source.lines[path + (key,)] = line
            result[key] = self.build(value_node, path + (key,))
        return result
