"""A real nginx (Debian package) for the tests, with its own prefix in a temp dir.

Fixture
-------
``nginx_factory`` (function): ``factory(http_config: str, port: int) -> Nginx`` writes
  ``http_config`` (the text of an ``http {}`` block, e.g. server blocks that listen on
  ``127.0.0.1:<port>``) into a main config of its own and starts
  ``nginx -p DIR -c DIR/nginx.conf`` in the foreground (``daemon off; master_process
  off;``): one process, pid file, temp paths, error and access logs all in DIR. It
  waits until ``127.0.0.1:<port>`` accepts connections; every nginx started is stopped
  at the end of the test. Pick the port first with ``tests.testbed.ports.free_port``.

Binary: ``/usr/sbin/nginx`` or ``nginx`` on PATH, built with ``auth_request``
(Debian's ``nginx`` package is: ``sudo apt-get install nginx``); the environment
variable ``AUTHGATE_TEST_NGINX`` overrides both. A missing binary fails the fixture
with that command.

The handle ``Nginx``: ``port``, ``url``, ``workdir``, ``error_log()``, ``access_log()``,
``log_text()`` (its own output), ``stop()``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.testbed.ports import ManagedProcess, fail_missing, wait_for_port

APT_HINT = "sudo apt-get install nginx"

_MAIN = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

{http}
}}
"""


def find_nginx() -> str | None:
    override = os.environ.get("AUTHGATE_TEST_NGINX")
    if override:
        return override
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return shutil.which("nginx")


def _require_nginx() -> str:
    binary = find_nginx()
    if binary is None:
        fail_missing(f"nginx is not installed: the forward-auth tests need it (`{APT_HINT}`)")
    built = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False)
    if "--with-http_auth_request_module" not in built.stderr + built.stdout:
        fail_missing(
            f"{binary} was built without the auth_request module; Debian's package has it "
            f"(`{APT_HINT}`)"
        )
    return binary


@dataclass
class Nginx:
    process: ManagedProcess
    port: int
    workdir: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def error_log(self) -> str:
        return _read(self.workdir / "error.log")

    def access_log(self) -> str:
        return _read(self.workdir / "access.log")

    def log_text(self) -> str:
        return self.process.log_text()

    def stop(self) -> int | None:
        return self.process.stop()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def start_nginx(http_config: str, port: int, workdir: Path) -> Nginx:
    binary = _require_nginx()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    config = workdir / "nginx.conf"
    config.write_text(_MAIN.format(dir=workdir, http=http_config))
    # `-t` first: a config error is reported as such, not as "port never opened".
    check = subprocess.run(
        [binary, "-t", "-p", str(workdir), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        pytest.fail(f"nginx rejected {config}:\n{check.stderr}\n--- config ---\n{config.read_text()}", pytrace=False)
    process = ManagedProcess(
        "nginx", [binary, "-p", str(workdir), "-c", str(config)], workdir / "nginx.out"
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=10.0, process=process, what="nginx")
    except Exception:
        process.stop()
        raise
    return Nginx(process, port, workdir)


@pytest.fixture
def nginx_factory(tmp_path: Path) -> Iterator[Callable[[str, int], Nginx]]:
    started: list[Nginx] = []

    def factory(http_config: str, port: int) -> Nginx:
        workdir = tmp_path / f"nginx{len(started)}"
        workdir.mkdir()
        nginx = start_nginx(http_config, port, workdir)
        started.append(nginx)
        return nginx

    yield factory
    for nginx in started:
        nginx.stop()
