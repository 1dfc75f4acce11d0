"""File paths in the config: relative ones mean "next to the config file", everywhere.

Contract: every schema field that names a file or folder is a `ConfigPath`. Validated
with the context `{"config_dir": DIR}` (the loader passes the config file's directory,
made absolute), a relative value becomes `DIR/value`; an absolute one is kept as
written. So `check-config`, `serve` and a reload mean the same file whatever the
working directory — the gateway never reads or writes relative to it. Without that
context (a model built in code) values are kept as given. The `*_file` secret
indirection (`secret_files`) resolves its paths with the same `resolve_path`.

`~` is not expanded: a service's home is rarely the operator's, so it is an error
waiting to happen; write the absolute path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

CONFIG_DIR = "config_dir"  # the key of the validation context


def resolve_path(value: str, config_dir: Path) -> str:
    """`value` as an absolute path: relative ones are taken from `config_dir`."""
    return value if Path(value).is_absolute() else str(config_dir / value)


def _resolve(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise ValueError("an empty path; leave the key out instead")
    context = info.context if isinstance(info.context, dict) else {}
    config_dir = context.get(CONFIG_DIR)
    return resolve_path(value, Path(config_dir)) if config_dir is not None else value


ConfigPath = Annotated[str, AfterValidator(_resolve)]
