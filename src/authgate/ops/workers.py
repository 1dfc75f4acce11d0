"""Several worker processes on one port: what a worker knows, and what is refused.

Contract: `workers_problems(config)` is the config check for `server.workers` (pure,
offline; meant to be called from `config/references.py`): more than one worker on the
memory store is refused, because each process would hold its own sessions and a user
would be logged in on one worker and not on the next. `WorkerSlot` is what the
supervisor hands to each worker it forks: its index, how many there are, where the
shared metrics files go, and the pipe on which it says it is ready.
`build_checked_snapshot(path)` is `build_snapshot` plus that check, for `serve` and
reloads, until the check runs inside `build_snapshot` itself.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from authgate.config.errors import ConfigError
from authgate.config.references import workers_problems
from authgate.config.snapshot import Snapshot, build_snapshot


def build_checked_snapshot(path: str) -> Snapshot:
    """`build_snapshot`, plus the worker check until `check_references` makes it."""
    snapshot = build_snapshot(path)
    problems = workers_problems(snapshot.config)
    if problems:
        # No line: the key path is located once the check runs inside build_snapshot.
        raise ConfigError(dataclasses.replace(p, file=path) for p in problems)
    return snapshot


@dataclass(frozen=True)
class WorkerSlot:
    index: int = 0
    count: int = 1
    metrics_dir: str | None = None  # prometheus-client multiprocess files, if shared
    ready_fd: int | None = None  # write end of the supervisor's readiness pipe

    @property
    def shared(self) -> bool:
        """True when sibling processes listen on the same ports (SO_REUSEPORT)."""
        return self.count > 1

    def announce_ready(self) -> None:
        """Tell the supervisor this worker serves: both listeners are open."""
        if self.ready_fd is not None:
            os.write(self.ready_fd, b"r")
            os.close(self.ready_fd)


SINGLE = WorkerSlot()
