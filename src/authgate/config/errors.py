"""Config problems: where in the operator's file something is wrong, and what.

Contract: a `ConfigProblem` names the file exactly as the user gave it, the 1-based
line (or None when no line applies, e.g. the file is missing), the key path in the
user's own spelling (`routes[2].upstream`) and a readable message. `ConfigError`
carries every problem found, so the operator fixes them all in one round.

Key paths are tuples of mapping keys (str) and list indexes (int); `format_key_path`
and `parse_key_path` convert between the tuple and the printed form. Code that finds a
problem without knowing the file (e.g. route compilation) may leave `file=""` and
`line=None`; the snapshot builder fills both in from the key path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]

# Keys printed bare; anything else (dots, spaces, brackets) is quoted so that
# `headers["X.Y"]` can never be confused with `headers.X.Y`.
_BARE_KEY = re.compile(r"[A-Za-z0-9_*-]+")
_SEGMENT = re.compile(r'\.?([A-Za-z0-9_*-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file, printed as `file:line key: message`."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.key:
            return f"{where} {self.key}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """A config could not be loaded; `problems` lists every reason, in file order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def format_key_path(path: KeyPath) -> str:
    """`("routes", 2, "upstream")` -> `routes[2].upstream`."""
    parts: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _BARE_KEY.fullmatch(segment):
            parts.append(f".{segment}" if parts else segment)
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts)


def parse_key_path(text: str) -> KeyPath | None:
    """Inverse of `format_key_path`; None when `text` is not a key path."""
    path: list[str | int] = []
    position = 0
    while position < len(text):
        found = _SEGMENT.match(text, position)
        if found is None or (found.group(1) and position and text[position] != "."):
            return None
        bare, index, quoted = found.groups()
        path.append(bare if bare else int(index) if index else json.loads(quoted))
        position = found.end()
    return tuple(path)
