"""`workers_problems`: the memory store with more than one worker is refused at start."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from authgate.config.references import workers_problems
from authgate.config.schema import GatewayConfig

ROUTES = [{"id": "a", "match": {"host": "a.test"}, "upstream": "http://10.0.0.1:8000"}]
REDIS = {"backend": "redis", "url": "redis://127.0.0.1:6379/0"}


def config(workers: int, store: dict[str, str] | None = None) -> GatewayConfig:
    data = {
        "server": {"workers": workers},
        "routes": ROUTES,
        "store": store or {"backend": "memory"},
    }
    return GatewayConfig.model_validate(data)


def test_memory_store_with_several_workers_is_a_problem() -> None:
    [problem] = workers_problems(config(2))
    assert problem.key == "server.workers"
    assert "store.backend: redis" in problem.message


def test_one_worker_or_a_shared_store_is_fine() -> None:
    assert workers_problems(config(1)) == []
    assert workers_problems(config(4, REDIS)) == []


def test_serve_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(
        yaml.safe_dump({"server": {"workers": 2, "listen": "127.0.0.1:1"}, "routes": ROUTES})
    )
    done = subprocess.run(
        [sys.executable, "-m", "authgate", "serve", "-c", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    # The problem names the file, the line and the key (config/references.py).
    assert re.search(rf"{re.escape(str(path))}:\d+ server.workers: 2 workers need a shared session store", done.stderr)
