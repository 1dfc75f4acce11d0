"""The demo's own state folder: `.demo/` at the checkout's root.

Contract: `prepare_demo_state(root)` makes `root/.demo` (mode 0700;
`prepare_state_folder(folder)` any other folder) and, the first time, a random cookie
secret in `cookie-secret` there (mode 0600 from its first byte); later runs reuse it,
so demo sessions survive a restart. `config/demo.yaml` reads the secret from there
(`cookie_secret_file`) and keeps its generated assertion key there
(`server.state_dir`). No secret of the demo is in the repository: a fixed one would
sign cookies with a key that everyone can read.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FOLDER = ".demo"
SECRET_FILE = "cookie-secret"


def prepare_demo_state(root: Path) -> Path:
    """The demo's state folder under `root`, with its cookie secret; returns the folder."""
    return prepare_state_folder(root / FOLDER)


def prepare_state_folder(folder: Path) -> Path:
    """`folder` (AUTHGATE_DEMO_STATE, or `.demo/`) with its cookie secret; returns it."""
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    secret = folder / SECRET_FILE
    try:
        # O_EXCL: never overwrite the secret of an earlier run (or a concurrent one).
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return folder
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return folder
