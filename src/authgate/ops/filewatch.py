"""Has a file changed? Polled by signature, with no dependency beyond `os.stat`.

Contract: `ChangeDetector(path).changed()` is True once for each new signature —
(mtime in ns, size, inode, device) — and False while the file is unchanged or cannot
be read (mid-replace, or gone: nothing to act on yet). `stat()` follows symlinks, so a
Kubernetes ConfigMap update, which swaps a symlink, shows as a new inode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class FileSignature:
    mtime_ns: int
    size: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: str) -> FileSignature | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class ChangeDetector:
    """Tells when a file's signature differs from the last one seen."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen = FileSignature.of(path)

    def changed(self) -> bool:
        now = FileSignature.of(self.path)
        if now is None or now == self._seen:
            return False
        self._seen = now
        return True
