"""A real Redis Cluster and a real Redis Sentinel setup for the tests.

Fixtures
--------
``redis_cluster`` (session): three masters, no replicas, on free loopback ports
  (``--cluster-enabled yes``, no persistence), joined by ``redis-cli --cluster create``
  and ready once every node reports ``cluster_state:ok``. Shared: use a key prefix of
  your own, and don't stop its nodes — use ``running_redis_cluster()`` for that.
``redis_sentinel`` (function): one master, one replica and three sentinels (quorum 2,
  ``down-after-milliseconds 1000``, ``failover-timeout 3000``), ready once every
  sentinel sees the replica and the two other sentinels, so a failover can be
  elected at once. Function-scoped because tests kill its master.

Handles
-------
``RedisClusterBed``: ``nodes`` (``["127.0.0.1:P", ...]``), ``servers``
  (``tests.testbed.redis.RedisServer``, one per master), ``server_for_slot(slot)``,
  ``startup_seconds``.
``RedisSentinelBed``: ``sentinel_nodes``, ``service``, ``master_address``
  (``"127.0.0.1:P"``, the current master as the sentinels report it),
  ``kill_master()`` (SIGKILL, a crash: no shutdown, no last sync), and
  ``wait_for_new_master(timeout) -> "127.0.0.1:P"`` (every sentinel names a new
  master, and that server says ``role:master``), ``startup_seconds``.

Binaries: the server is found as in ``tests/testbed/redis.py``; ``redis-cli`` (or
``valkey-cli``) next to it or on PATH. Sentinels run as ``redis-server CONF --sentinel``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.testbed.ports import (
    ManagedProcess,
    TestbedError,
    fail_missing,
    free_port,
    wait_for_port,
)
from tests.testbed.redis import APT_HINT, RedisServer, _binary_or_fail

HOST = "127.0.0.1"
SERVICE = "authgate"


def _client(port: int) -> redis.Redis:
    return redis.Redis(HOST, port, socket_timeout=2, socket_connect_timeout=2, protocol=2)


def _query(port: int, *command: str) -> Any:
    with _client(port) as client:
        return client.execute_command(*command)


def _wait(what: str, check: Callable[[], bool], timeout: float, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass  # not up yet
        if time.monotonic() > deadline:
            raise TestbedError(f"{what} within {timeout:.0f}s\n{logs()}")
        time.sleep(0.05)


def _cli_binary(server_binary: str) -> str:
    folder = Path(server_binary).parent
    for name in ("redis-cli", "valkey-cli"):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if found is None:
        fail_missing(f"redis-cli not found. Install it with:\n    {APT_HINT}")
    return found


# -- cluster -------------------------------------------------------------------------


class RedisClusterBed:
    """Three cluster masters covering all 16384 slots."""

    def __init__(self, servers: list[RedisServer], startup_seconds: float) -> None:
        self.servers = servers
        self.startup_seconds = startup_seconds

    @property
    def nodes(self) -> list[str]:
        return [f"{server.host}:{server.port}" for server in self.servers]

    def server_for_slot(self, slot: int) -> RedisServer:
        for start, end, master, *_ in _query(self.servers[0].port, "CLUSTER", "SLOTS"):
            if start <= slot <= end:
                port = int(master[1])
                return next(server for server in self.servers if server.port == port)
        raise TestbedError(f"no node serves slot {slot}")

    def log_text(self) -> str:
        return "\n".join(f"--- {s.port} ---\n{s.log_text(2000)}" for s in self.servers)


def _cluster_ok(port: int) -> bool:
    info = _query(port, "CLUSTER", "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text and "cluster_known_nodes:3" in text


@contextlib.contextmanager
def running_redis_cluster(masters: int = 3) -> Iterator[RedisClusterBed]:
    """A started cluster in its own temp dir; stopped and removed on exit."""
    binary = _binary_or_fail()
    root = Path(tempfile.mkdtemp(prefix="authgate-redis-cluster-"))
    servers: list[RedisServer] = []
    try:
        started = time.monotonic()
        for index in range(masters):
            workdir = root / f"node{index}"
            workdir.mkdir()
            # The cluster bus port defaults to port + 10000, which may be taken (or be
            # in the ephemeral range): choose it too.
            args = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(workdir / "nodes.conf"),
                "--cluster-port", str(free_port(HOST)),
            ]  # fmt: skip
            server = RedisServer(workdir, binary=binary, extra_args=args)
            servers.append(server)
            server.start()
        bed = RedisClusterBed(servers, 0.0)
        _create_cluster(binary, bed, root)
        for server in servers:
            _wait("no cluster_state:ok", partial(_cluster_ok, server.port), 30, bed.log_text)
        bed.startup_seconds = time.monotonic() - started
        yield bed
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _create_cluster(binary: str, bed: RedisClusterBed, root: Path) -> None:
    command = [_cli_binary(binary), "--cluster", "create", *bed.nodes]
    command += ["--cluster-replicas", "0", "--cluster-yes"]
    result = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise TestbedError(
            f"{' '.join(command)} exited with {result.returncode}\n"
            f"{result.stdout}\n{result.stderr}\n{bed.log_text()}"
        )


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterBed]:
    """The session's three-master cluster. Don't stop its nodes."""
    with running_redis_cluster() as bed:
        yield bed


# -- sentinel ------------------------------------------------------------------------

_SENTINEL_CONF = """\
port {port}
bind {host}
daemonize no
logfile ""
dir {dir}
sentinel resolve-hostnames no
sentinel monitor {service} {host} {master_port} 2
sentinel down-after-milliseconds {service} 1000
sentinel failover-timeout {service} 3000
sentinel parallel-syncs {service} 1
"""


class RedisSentinelBed:
    """A master, its replica, and three sentinels watching them."""

    service = SERVICE

    def __init__(
        self,
        root: Path,
        binary: str,
        servers: list[RedisServer],
        sentinels: list[tuple[int, ManagedProcess]],
    ) -> None:
        self.root = root
        self.binary = binary
        self.servers = servers  # the first one is the master at the start
        self.sentinels = sentinels
        self.startup_seconds = 0.0
        self.killed: str | None = None

    @property
    def sentinel_nodes(self) -> list[str]:
        return [f"{HOST}:{port}" for port, _ in self.sentinels]

    @property
    def master_address(self) -> str:
        """The master as the first sentinel names it now."""
        return self._reported_masters()[0]

    def _reported_masters(self) -> list[str]:
        found = []
        for port, _ in self.sentinels:
            host, master_port = _query(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
            found.append(f"{_text(host)}:{_text(master_port)}")
        return found

    def server_at(self, address: str) -> RedisServer:
        return next(s for s in self.servers if f"{s.host}:{s.port}" == address)

    def kill_master(self) -> str:
        """SIGKILL the current master (a crash: nothing flushed); return its address."""
        address = self.master_address
        server = self.server_at(address)
        if server.process is None:
            raise TestbedError(f"the master {address} is not running")
        server.process.popen.kill()
        server.process.popen.wait(5)
        server.stop()
        self.killed = address
        return address

    def wait_for_new_master(self, timeout: float = 20.0) -> str:
        """Block until every sentinel names one new master and it says role:master."""
        if self.killed is None:
            raise TestbedError("kill_master() first")
        found: list[str] = []

        def promoted() -> bool:
            nonlocal found
            found = self._reported_masters()
            if len(set(found)) != 1 or found[0] == self.killed:
                return False
            role = _query(self.server_at(found[0]).port, "ROLE")
            return _text(role[0]) == "master"

        _wait("no new master", promoted, timeout, self.log_text)
        return found[0]

    def log_text(self) -> str:
        parts = [f"--- redis {s.port} ---\n{s.log_text(2000)}" for s in self.servers]
        parts += [f"--- sentinel {p} ---\n{proc.log_text(2000)}" for p, proc in self.sentinels]
        return "\n".join(parts)

    def stop(self) -> None:
        for _, process in self.sentinels:
            process.stop()
        for server in self.servers:
            server.stop()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _sentinel_ready(port: int) -> bool:
    state = _query(port, "SENTINEL", "MASTER", SERVICE)
    fields = dict(zip(map(_text, state[::2]), map(_text, state[1::2]), strict=True))
    # A failover needs a replica to promote and a majority of the sentinels to elect
    # a leader; both are discovered by gossip after start.
    return fields["num-slaves"] == "1" and fields["num-other-sentinels"] == "2"


def _start_sentinel(
    root: Path, binary: str, index: int, master_port: int
) -> tuple[int, ManagedProcess]:
    port = free_port(HOST)
    conf = root / f"sentinel{index}.conf"  # rewritten by the sentinel as it learns
    conf.write_text(
        _SENTINEL_CONF.format(
            port=port, host=HOST, dir=root, service=SERVICE, master_port=master_port
        )
    )
    process = ManagedProcess(
        f"redis-sentinel {port}", [binary, str(conf), "--sentinel"], root / f"sentinel{index}.log"
    )
    wait_for_port(HOST, port, 10, process=process, what="redis sentinel")
    return port, process


@contextlib.contextmanager
def running_redis_sentinel() -> Iterator[RedisSentinelBed]:
    """A started master + replica + three sentinels; stopped and removed on exit."""
    binary = _binary_or_fail()
    root = Path(tempfile.mkdtemp(prefix="authgate-redis-sentinel-"))
    bed = RedisSentinelBed(root, binary, [], [])
    try:
        started = time.monotonic()
        # Diskless sync waits 5 s by default for more replicas to join; one is enough.
        fast_sync = ["--repl-diskless-sync-delay", "0"]
        master = RedisServer(root / "master", binary=binary, extra_args=fast_sync)
        replica = RedisServer(
            root / "replica",
            binary=binary,
            extra_args=[*fast_sync, "--replicaof", HOST, str(master.port)],
        )
        for server in (master, replica):
            server.workdir.mkdir()
            bed.servers.append(server)
            server.start()
        _wait(
            "the replica did not sync",
            lambda: _query(replica.port, "INFO", "replication")["master_link_status"] == "up",
            20,
            bed.log_text,
        )
        for index in range(3):
            bed.sentinels.append(_start_sentinel(root, binary, index, master.port))
        for port, _ in bed.sentinels:
            ready = partial(_sentinel_ready, port)
            _wait("sentinels did not discover each other", ready, 30, bed.log_text)
        bed.startup_seconds = time.monotonic() - started
        yield bed
    finally:
        bed.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis_sentinel() -> Iterator[RedisSentinelBed]:
    """A fresh Sentinel setup for this test (tests kill its master)."""
    with running_redis_sentinel() as bed:
        yield bed
