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
`authgate: cannot start: ...`. State never goes to the working directory: a relative
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
_MODE = 0o700


class StateDirError(Exception):
    """The state folder cannot be used; the message names it."""


def state_file(state_dir: str, given: str | None, name: str) -> Path:
    """Where a state file lives, the state folder made ready when it is there."""
    path = Path(given) if given is not None else Path(state_dir) / name
    if path.is_relative_to(state_dir):
        prepare_state_dir(Path(state_dir))
    return path


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
    if not stat.S_ISDIR(mode):
        raise StateDirError(f"{where}: not a folder")
    _check_mode(where, folder, stat.S_IMODE(mode))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StateDirError(f"{where}: not writable by uid {os.getuid()}")
    return folder


def _check_mode(where: str, folder: Path, mode: int) -> None:
    if mode & 0o022:
        raise StateDirError(f"{where}: writable by group or others (mode {mode:o}): chmod 700 {folder}")
    if mode & 0o055:
        log.warning("%s: readable by group or others (mode %o): chmod 700 %s", where, mode, folder)
