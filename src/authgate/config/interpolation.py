"""`${VAR}` environment interpolation inside string values of the config.

Contract: `interpolate(text, environ)` replaces `${NAME}` with the variable's value and
`${NAME:-default}` with the value, or `default` when the variable is unset or empty
(the shell's `:-`). `$${` is a literal `${`. Several references may appear anywhere in
one string. It returns the new text and the problems (unset variables, malformed
references); the text is unchanged when there are problems.

`interpolate_tree` applies this to every string value of parsed config data, never to
keys, and leaves non-strings as they are, so a YAML `8080` stays an int while
`${PORT}` becomes the string "8080" for the schema to coerce. Interpolation runs once,
before `*_file` secrets are read, so secret file contents are never interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from authgate.config.errors import KeyPath
from authgate.config.yaml_source import Data, Source

# A default may hold `$` but not `${`: nesting is not supported, and is reported
# rather than half-expanded. The last alternative catches any `${` the well-formed
# ones did not, so a typo such as `${CORP SECRET}` is an error, not a literal value.
_REFERENCE = re.compile(
    r"\$\$\{"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>(?:[^}$]|\$(?!\{))*))?\}"
    r"|(?P<bad>\$\{[^}]*\}?)"
)


def interpolate(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand references in `text`; returns (result, problems)."""
    problems: list[str] = []

    def replace(found: re.Match[str]) -> str:
        if found.group("bad") is not None:
            problems.append(
                f"malformed reference {found.group('bad')!r} "
                "(write ${NAME} or ${NAME:-default}; $${ for a literal ${)"
            )
            return ""
        name, default = found.group("name"), found.group("default")
        if name is None:
            return "${"
        value = environ.get(name, "")
        if value == "" and default is not None:
            return default
        if name not in environ:
            problems.append(f"environment variable {name} is not set")
        return value

    result = _REFERENCE.sub(replace, text)
    return (text, problems) if problems else (result, problems)


def interpolate_tree(data: Data, environ: Mapping[str, str], source: Source) -> Data:
    """Interpolate every string value under `data`, reporting problems to `source`."""
    return _walk(data, (), environ, source)


def _walk(data: Data, path: KeyPath, environ: Mapping[str, str], source: Source) -> Data:
    if isinstance(data, dict):
        return {key: _walk(value, path + (key,), environ, source) for key, value in data.items()}
    if isinstance(data, list):
        return [_walk(item, path + (i,), environ, source) for i, item in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data
    result, problems = interpolate(data, environ)
    for problem in problems:
        source.report(path, problem, stand_in=True)
    return result
