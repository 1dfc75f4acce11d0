"""`server.state_dir`: the one folder where the gateway keeps files it writes itself.

Contract: `state_file(state_dir, given, name)` is the path of one state file — the
operator's `given` path when set (already absolute: see `config.paths`), else
`state_dir/name`. When that path lies in the state folder, `prepare_state_dir` runs
first, at start and at each reload that builds it anew:

* a missing folder is created (parents too) and set to mode 0700;
* a folder that group or others may write is refused: whoever can write there can
  swap the assertion key file for one whose private key they know, and then mint
  identities every upstream accepts. A folder they may only read or list is used,
  with a warning (the key file itself is always 0600);
* a path that is not a folder, or that this process cannot write, is refused.

Refusals raise `StateDirError`, one line naming the folder, which `serve` prints as
`authgate: cannot start: ...`. `check_state_dir(folder)` answers the same judgement
without changing anything (a missing folder: whether it could be created), for
`check-config` and the start-up checks (`ops.preflight`). State never goes to the working directory: a relative
`state_dir` is taken from the config file's directory like every path. A folder no
state file lives in is never touched, so a read-only deployment whose keys come from
a mounted secret needs no writable state folder.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

ASSERTION_KEY_FILE = "assertion-keys.pem"
# A chained decision log's checkpoint signing keys (decisionlog/chain.py).
AUDIT_KEY_FILE = "audit-signing-keys.pem"
_MODE = 0o700


class StateDirError(Exception):
    """The state folder cannot be used; the message names it."""


def state_file(state_dir: str, given: str | None, name: str) -> Path:
    """Where a state file lives, the state folder made ready when it is there."""
    path = state_path(state_dir, given, name)
    if path.is_relative_to(state_dir):
        prepare_state_dir(Path(state_dir))
    return path


def state_path(state_dir: str, given: str | None, name: str) -> Path:
    """Where a state file lives, touching nothing."""
    return Path(given) if given is not None else Path(state_dir) / name


def prepare_state_dir(folder: Path) -> Path:
    """Create `folder` 0700 if missing; refuse one others may write, or we may not."""
    where = f"server.state_dir {folder}"
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=_MODE)
            folder.chmod(_MODE)  # mkdir's mode is cut by the umask; 0700 exactly
            log.info("created state folder %s (mode 700)", folder)
        mode = folder.stat().st_mode
    except OSError as error:
        raise StateDirError(f"{where}: cannot create: {error.strerror or error}") from error
    refusal = _refusal(folder, mode)
    if refusal is not None:
        raise StateDirError(f"{where}: {refusal}")
    exposure = _exposure(folder, mode)
    if exposure is not None:
        log.warning("%s: %s", where, exposure)
    return folder


def check_state_dir(folder: Path) -> tuple[str | None, str | None]:
    """(refusal, warning) that `prepare_state_dir` would give, changing nothing."""
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        return creatable_problem(folder), None
    except OSError as error:  # e.g. a parent that is a file: mkdir would fail the same way
        return f"cannot create: {error.strerror or error}", None
    refusal = _refusal(folder, mode)
    return (refusal, None) if refusal is not None else (None, _exposure(folder, mode))


def creatable_problem(folder: Path) -> str | None:
    """Why `mkdir -p folder` would fail here, or None: its nearest existing ancestor
    must be a folder this process may write."""
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot create: {ancestor} is not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create: {ancestor} is not writable by uid {os.getuid()}"
    return None


def _refusal(folder: Path, mode: int) -> str | None:
    if not stat.S_ISDIR(mode):
        return "not a folder"
    bits = stat.S_IMODE(mode)
    if bits & 0o022:
        return f"writable by group or others (mode {bits:o}): chmod 700 {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"not writable by uid {os.getuid()}"
    return None


def _exposure(folder: Path, mode: int) -> str | None:
    bits = stat.S_IMODE(mode)
    if bits & 0o055:
        return f"readable by group or others (mode {bits:o}): chmod 700 {folder}"
    return None
