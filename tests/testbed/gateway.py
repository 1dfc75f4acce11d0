"""Gateway fixture: the real `authgate serve` in a subprocess on a free loopback port.

`gateway_factory(config: dict) -> Gateway` writes the config as YAML (filling in
`server.listen`, `server.state_dir` (in the test's folder), a decision-log file and
`log.format: text` unless given), starts
`python -m authgate serve -c FILE`, waits until the port accepts connections and
stops the process at the end of the test. `Gateway.decisions()` returns the decision
records written so far (polling until at least `count` are there); `Gateway.record(id)`
the record of one request.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.testbed.ports import ManagedProcess, free_port, wait_for_port


@dataclass
class Gateway:
    process: ManagedProcess
    port: int
    config_path: Path
    decision_file: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stderr(self) -> str:
        return self.process.log_text()

    def decisions(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            records = [
                json.loads(line)
                for line in self._complete_lines()
                if line.strip()
            ]
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.02)

    def _complete_lines(self) -> list[str]:
        """The log's lines the writer has finished: a reader can see a batch's write
        half done (a regular file's write() is not atomic against a concurrent read),
        so a last line without its newline is left for the next poll."""
        if not self.decision_file.exists():
            return []
        lines = self.decision_file.read_text().splitlines(keepends=True)
        return [line for line in lines if line.endswith("\n")]

    def record(self, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The decision record of one request (the log is written off the request path)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.decisions(0) if r["request_id"] == request_id]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no decision record for {request_id}")

    def signal(self, signum: int) -> None:
        self.process.popen.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.popen.wait(timeout)

    def stop(self) -> int | None:
        return self.process.stop(kill_after=20.0)


def start_gateway(config: dict[str, Any], workdir: Path, host: str = "127.0.0.1") -> Gateway:
    config = json.loads(json.dumps(config))  # deep copy; tests keep theirs
    server = config.setdefault("server", {})
    server.setdefault("listen", f"{host}:{free_port(host)}")
    # Never the machine's /var/lib/authgate: each gateway keeps its state in its test.
    server.setdefault("state_dir", str(workdir / "state"))
    port = int(server["listen"].rpartition(":")[2])
    decision_file = workdir / "decisions.jsonl"
    config.setdefault("decision_log", {"sinks": [{"file": str(decision_file)}]})
    # The tests read the log as text lines; tests/operators/test_logs.py sets `log:`.
    config.setdefault("log", {"format": "text"})
    config_path = workdir / "authgate.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = ManagedProcess(
        "authgate",
        [sys.executable, "-m", "authgate", "serve", "-c", str(config_path)],
        workdir / "gateway.log",
        cwd=workdir,  # whatever the gateway might write beside itself stays in the test
        env={"PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(host, port, timeout=15.0, process=process, what="authgate")
    except Exception:
        process.stop()
        raise
    return Gateway(process, port, config_path, decision_file, host)


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def factory(config: dict[str, Any], host: str = "127.0.0.1") -> Gateway:
        workdir = tmp_path / f"gateway{len(started)}"
        workdir.mkdir()
        gateway = start_gateway(config, workdir, host)
        started.append(gateway)
        return gateway

    yield factory
    for gateway in started:
        gateway.stop()
