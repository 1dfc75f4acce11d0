"""The supervisor: N worker processes on one port, restarted when they die.

Contract: `Supervisor(snapshot, run_worker).run() -> int` is `authgate serve` when
`server.workers > 1`. It forks the workers with `os.fork()` before any event loop or
thread exists in this process (forking a running loop or a thread is unsafe; forking
a plain process is cheap and hands each child the validated snapshot as it is). Each
child runs `run_worker(snapshot, slot)` with its own event loop and its own
SO_REUSEPORT sockets, and never returns into this code (`os._exit`). The supervisor
runs no loop: it waits on one `select()` over a signal wakeup pipe and the workers'
readiness pipes.

* Start: every worker must report ready within `STARTUP_SECONDS`. If one exits
  first, the others are stopped and `run()` returns 1 (the worker printed why).
* A worker that dies later is restarted with the same index; one that dies again
  within `BACKOFF_WINDOW` seconds of its start waits 0.5 s, 1 s, 2 s ... up to
  `MAX_BACKOFF`. `authgate_worker_restarts_total` counts restarts.
* SIGTERM or SIGINT: SIGTERM to every worker, which drains (`ops.drain`). Returns 0
  when every worker exited 0, else 1; a worker still alive after
  2 × `shutdown_timeout` + 10 s (drain, then the decision-log flush) is killed.
* SIGHUP, or a change of the config file (polled when `watch_config`): the
  supervisor validates the file itself — a replacement worker forks from the last
  good snapshot — and sends SIGHUP to every ready worker, which reloads and logs the
  result. A worker still starting ignores SIGHUP and gets it once it is ready.
* The supervisor killed (even SIGKILL): on Linux each worker gets SIGTERM
  (PR_SET_PDEATHSIG) and drains, so no orphan keeps the port.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from authgate.config.snapshot import Snapshot
from authgate.ops.filewatch import ChangeDetector
from authgate.ops.logs import configure_logging
from authgate.ops.metrics import count_worker_restarts
from authgate.ops.workers import WorkerSlot, build_checked_snapshot

log = logging.getLogger("authgate.supervisor")

STARTUP_SECONDS = 60.0
BACKOFF_WINDOW = 10.0
MAX_BACKOFF = 10.0
POLL_SECONDS = 1.0
SETTLE_SECONDS = 0.2
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

RunWorker = Callable[[Snapshot, WorkerSlot], int]


@dataclass
class _Worker:
    index: int
    pid: int
    started: float
    ready_fd: int | None
    generation: int  # the supervisor's snapshot generation it was forked with
    ready: bool = False


def _noop(signum: int, frame: FrameType | None) -> None:
    """Installed so the wakeup fd receives the signal; the loop does the work."""


def _exit_text(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(
        self,
        snapshot: Snapshot,
        run_worker: RunWorker,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._generation = 0
        self._run_worker = run_worker
        self._count = snapshot.config.server.workers
        self._clock = clock
        self._workers: dict[int, _Worker] = {}  # by pid
        self._restart_at: dict[int, float] = {}  # by index
        self._quick_deaths: dict[int, int] = {}  # by index
        self._started = clock()
        self._all_ready = False
        self._stopping_since: float | None = None
        self._killed = False
        self._exit_code = 0
        self._metrics_dir = ""
        self._wake: tuple[int, int] = (-1, -1)
        self._detector = ChangeDetector(snapshot.source)

    def run(self) -> int:
        self._metrics_dir = tempfile.mkdtemp(prefix="authgate-metrics-")
        self._wake = os.pipe()
        for fd in self._wake:
            os.set_blocking(fd, False)
        previous = {signum: signal.signal(signum, _noop) for signum in _SIGNALS}
        previous_wakeup = signal.set_wakeup_fd(self._wake[1])
        try:
            self._restarts = count_worker_restarts(self._metrics_dir)
            for index in range(self._count):
                self._spawn(index)
            return self._loop()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for fd in self._wake:
                os.close(fd)
            shutil.rmtree(self._metrics_dir, ignore_errors=True)

    # --- the loop -----------------------------------------------------------------

    def _loop(self) -> int:
        detector = self._detector
        next_poll = self._clock() + POLL_SECONDS
        while True:
            readable = select.select(self._fds(), [], [], self._timeout(next_poll))[0]
            for fd in readable:
                if fd == self._wake[0]:
                    self._on_signals(os.read(fd, 512))
                else:
                    self._on_ready(fd)
            self._reap()
            now = self._clock()
            if self._stopping_since is not None:
                if not self._workers:
                    log.info("all workers stopped")
                    return self._exit_code
                self._kill_stragglers(now)
                continue
            if not self._all_ready and now - self._started > STARTUP_SECONDS:
                self._fail_start(f"workers not ready within {STARTUP_SECONDS:.0f}s")
                continue
            self._restart_due(now)
            if now >= next_poll:
                next_poll = now + POLL_SECONDS
                self._poll_config(detector)

    def _fds(self) -> list[int]:
        ready = [w.ready_fd for w in self._workers.values() if w.ready_fd is not None]
        return [self._wake[0], *ready]

    def _timeout(self, next_poll: float) -> float:
        due = [next_poll, *self._restart_at.values()]
        return max(0.0, min(due) - self._clock())

    # --- events -------------------------------------------------------------------

    def _on_signals(self, signums: bytes) -> None:
        for signum in signums:
            if signum in (signal.SIGTERM, signal.SIGINT):
                self._stop(f"received {signal.Signals(signum).name}")
            elif signum == signal.SIGHUP:
                self._reload("SIGHUP")
            # SIGCHLD: `_reap` runs after every wakeup (several may arrive as one).

    def _on_ready(self, fd: int) -> None:
        worker = next(w for w in self._workers.values() if w.ready_fd == fd)
        ready = os.read(fd, 16) != b""  # EOF: it died before it was ready
        os.close(fd)
        worker.ready_fd = None
        if not ready:
            return
        worker.ready = True
        if worker.generation != self._generation:  # a reload came while it started
            os.kill(worker.pid, signal.SIGHUP)
        if not self._all_ready and sum(w.ready for w in self._workers.values()) == self._count:
            self._all_ready = True
            log.info("%d workers ready (pids %s)", self._count, sorted(self._workers))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is None:
                continue
            if worker.ready_fd is not None:
                os.close(worker.ready_fd)
            # Its live gauges go; its counters stay and keep adding up.
            mark_process_dead(pid, self._metrics_dir)  # type: ignore[no-untyped-call]
            self._exited(worker, os.waitstatus_to_exitcode(status))

    def _exited(self, worker: _Worker, code: int) -> None:
        what = f"worker {worker.index} (pid {worker.pid}) {_exit_text(code)}"
        if self._stopping_since is not None:
            if code != 0:
                self._exit_code = 1
                log.warning("%s while stopping", what)
            return
        if not self._all_ready:
            self._fail_start(f"{what} during start-up")
            return
        now = self._clock()
        quick = now - worker.started < BACKOFF_WINDOW
        deaths = self._quick_deaths.get(worker.index, 0) + 1 if quick else 0
        self._quick_deaths[worker.index] = deaths
        delay = min(MAX_BACKOFF, 0.5 * 2 ** (deaths - 1)) if deaths else 0.0
        log.warning("%s; restarting it in %.1fs", what, delay)
        self._restart_at[worker.index] = now + delay

    def _restart_due(self, now: float) -> None:
        for index, due in list(self._restart_at.items()):
            if now >= due:
                del self._restart_at[index]
                self._spawn(index)
                self._restarts.inc()

    def _poll_config(self, detector: ChangeDetector) -> None:
        if not detector.changed() or not self._snapshot.config.server.watch_config:
            return
        while True:  # wait for the writer to finish
            time.sleep(SETTLE_SECONDS)
            if not detector.changed():
                break
        self._reload("file changed")

    def _reload(self, trigger: str) -> None:
        self._detector.changed()  # the file as read now; no second reload for it
        try:
            self._snapshot = build_checked_snapshot(self._snapshot.source)
            self._generation += 1
            configure_logging(self._snapshot.config)  # its own lines follow `log:` too
        except Exception as error:  # each worker logs every problem itself
            log.debug("supervisor kept its snapshot: %s", error)
        log.info("config reload (%s): signalling %d workers", trigger, len(self._workers))
        for worker in self._workers.values():
            if worker.ready:
                os.kill(worker.pid, signal.SIGHUP)

    # --- stopping -----------------------------------------------------------------

    def _fail_start(self, why: str) -> None:
        log.error("%s; stopping", why)
        self._exit_code = 1
        self._stop(why)

    def _stop(self, why: str) -> None:
        if self._stopping_since is not None:
            return
        log.info("stopping %d workers (%s)", len(self._workers), why)
        self._stopping_since = self._clock()
        self._restart_at.clear()
        for pid in self._workers:
            _signal(pid, signal.SIGTERM)

    def _kill_stragglers(self, now: float) -> None:
        budget = 2 * self._snapshot.config.server.shutdown_timeout + 10.0
        assert self._stopping_since is not None
        if self._killed or now - self._stopping_since < budget:
            return
        self._killed = True
        self._exit_code = 1
        for pid in self._workers:
            log.error("worker pid %d still running %.0fs after SIGTERM; killing it", pid, budget)
            _signal(pid, signal.SIGKILL)

    # --- forking ------------------------------------------------------------------

    def _spawn(self, index: int) -> None:
        ready_r, ready_w = os.pipe()
        slot = WorkerSlot(index, self._count, self._metrics_dir, ready_w)
        sys.stdout.flush()  # or the child would write the parent's buffer again
        sys.stderr.flush()
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            self._become_worker(slot, supervisor)
        os.close(ready_w)
        self._workers[pid] = _Worker(index, pid, self._clock(), ready_r, self._generation)
        log.info("worker %d started (pid %d)", index, pid)

    def _become_worker(self, slot: WorkerSlot, supervisor: int) -> None:
        code = 1
        try:
            _die_with(supervisor)
            signal.set_wakeup_fd(-1)
            for signum in _SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            # SIGHUP's default action ends the process: ignore it until the worker's
            # loop takes it over, so a reload while it starts cannot kill it.
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            for fd in (*self._wake, *(w.ready_fd for w in self._workers.values())):
                if fd is not None:
                    os.close(fd)
            code = self._run_worker(self._snapshot, slot)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # never back into the supervisor's stack


def _die_with(supervisor: int) -> None:
    """Linux: SIGTERM this worker when the supervisor dies, even by SIGKILL.

    Otherwise orphaned workers would keep serving the port with nobody to restart or
    stop them. SIGTERM, not SIGKILL: they drain like on any other stop.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # exited meanwhile; `_reap` will see it
        pass
