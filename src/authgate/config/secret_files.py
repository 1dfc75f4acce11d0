"""`*_file` keys: read a secret from a file instead of writing it in the config.

Contract: in any mapping, a key `NAME_file` whose sibling `NAME` is not given is
replaced by `NAME`, whose value is the file's contents with one trailing newline
removed (`client_secret_file: /run/secrets/shop` -> `client_secret: <contents>`). A
list of paths gives a list of contents (for secrets that rotate through a list).
Relative paths are relative to the config file's directory, as Prometheus does for
its `*_file` options, so `check-config` means the same from any working directory
(`paths.resolve_path`, the rule of every path option).

The `_file` suffix is reserved for this secret indirection: a schema field must never
itself end in `_file`, or the loader would read the file it names. Giving both
`NAME` and `NAME_file` is a problem, as is a file that cannot be read. Problems name
the key the user wrote (`NAME_file`), on its line.
"""

from __future__ import annotations

from pathlib import Path

from authgate.config.errors import KeyPath
from authgate.config.paths import resolve_path
from authgate.config.yaml_source import Data, Source

SUFFIX = "_file"


def resolve_secret_files(data: Data, base_dir: Path, source: Source) -> Data:
    """Replace every `NAME_file` key under `data` by `NAME` with the file contents."""
    return _walk(data, (), base_dir, source)


def _walk(data: Data, path: KeyPath, base_dir: Path, source: Source) -> Data:
    if isinstance(data, list):
        return [_walk(item, path + (i,), base_dir, source) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        return data
    result: dict[str, Data] = {}
    for key, value in data.items():
        if key.endswith(SUFFIX) and key != SUFFIX:
            _resolve(data, key, path, base_dir, source, into=result)
        else:
            result[key] = _walk(value, path + (key,), base_dir, source)
    return result


def _resolve(
    mapping: dict[str, Data],
    key: str,
    path: KeyPath,
    base_dir: Path,
    source: Source,
    into: dict[str, Data],
) -> None:
    name = key.removesuffix(SUFFIX)
    if name in mapping:
        source.report(path + (key,), f"give either {name} or {key}, not both", stand_in=True)
        return
    # Problems about the value (wrong type, unknown key) must name `key`, on its line.
    source.spelled[path + (name,)] = key
    if path + (key,) in source.lines:
        source.lines[path + (name,)] = source.lines[path + (key,)]
    if source.covers(path + (key,)):  # e.g. an unset ${VAR} in the path: said already
        source.stand_ins.add(path + (name,))
        into[name] = ""
        return
    into[name] = _read_value(mapping[key], path + (name,), base_dir, source)


def _read_value(value: Data, path: KeyPath, base_dir: Path, source: Source) -> Data:
    if isinstance(value, str):
        return _read_secret(value, path, base_dir, source)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [_read_secret(str(item), path, base_dir, source) for item in value]
    source.report(path, "must be a file path, or a list of file paths", stand_in=True)
    return None


def _read_secret(name: str, path: KeyPath, base_dir: Path, source: Source) -> str:
    try:
        text = Path(resolve_path(name, base_dir)).read_text(encoding="utf-8")
    except OSError as error:
        source.report(path, f"cannot read {name!r}: {error.strerror or error}", stand_in=True)
        return ""
    except UnicodeDecodeError:
        source.report(path, f"{name!r} is not UTF-8 text", stand_in=True)
        return ""
    # Files written by `echo` or editors end in one newline that is not the secret.
    return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
