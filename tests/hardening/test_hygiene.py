"""Hygiene (issue 10): no key in the repository, state in `server.state_dir`, paths
taken from the config file's folder, placeholder and short secrets refused.

End to end through `authgate serve` / `authgate check-config` as subprocesses, each
started from a working directory that is neither the repository nor the config's
folder, so that anything written "beside the process" would show.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.testbed.ports import ManagedProcess, free_port, wait_for_port

REPO = Path(__file__).parents[2]
SECRET = "hygiene-test-cookie-secret-0123456789abcdef"
ROUTE = {"id": "web", "match": {"host": "127.0.0.1"}, "upstream": "http://127.0.0.1:9"}


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"routes": [ROUTE], **config}
    path = folder / "authgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def authgate(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end (refusals), from `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "authgate", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class Running:
    """`authgate serve` started from `cwd`, until stopped."""

    def __init__(self, config_path: Path, cwd: Path) -> None:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        self.port = int(config["server"]["listen"].rpartition(":")[2])
        self.process = ManagedProcess(
            "authgate",
            [sys.executable, "-m", "authgate", "serve", "-c", str(config_path)],
            cwd / "gateway.log.txt",
            cwd=cwd,
            env={"PYTHONUNBUFFERED": "1"},
        )
        wait_for_port("127.0.0.1", self.port, timeout=15.0, process=self.process, what="authgate")

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            request = urllib.request.Request(url, headers={"Accept": "text/html"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> None:
        self.process.stop(kill_after=20.0)


@pytest.fixture
def serve_from() -> Any:
    started: list[Running] = []

    def start(config_path: Path, cwd: Path) -> Running:
        cwd.mkdir(parents=True, exist_ok=True)
        running = Running(config_path, cwd)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def listen() -> dict[str, str]:
    return {"listen": f"127.0.0.1:{free_port('127.0.0.1')}"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- no key in the repository ---------------------------------------------------------


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_private_key_is_tracked() -> None:
    holding_keys = []
    for name in tracked_files():
        path = REPO / name
        if path.is_file() and not path.is_symlink():
            if b"PRIVATE KEY-----" in path.read_bytes() and "/files/" not in name:
                holding_keys.append(name)
    # Only code that writes or parses PEM may name the marker; no file holds a key.
    assert [n for n in holding_keys if not n.endswith((".py", ".md"))] == []
    assert "authgate-assertion-keys.pem" not in tracked_files()


@pytest.mark.parametrize(
    "name", ["authgate-assertion-keys.pem", "assertion-keys.pem", "x/y/tls.key", ".demo/cookie-secret"]
)
def test_keys_and_state_are_ignored(name: str) -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", name], cwd=REPO, check=False, timeout=60
    )
    assert ignored.returncode == 0, f"{name} is not ignored by .gitignore"


# -- server.state_dir -----------------------------------------------------------------


def test_default_key_file_goes_to_the_state_dir_not_the_working_dir(
    tmp_path: Path, serve_from: Any
) -> None:
    conf, cwd = tmp_path / "conf", tmp_path / "cwd"
    # A relative state_dir: next to the config file, like every path.
    path = write_config(conf, {
        "server": {**listen(), "state_dir": "state"},
        "secrets": {"cookie_secret": SECRET},
        "decision_log": {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]},
    })  # fmt: skip
    gateway = serve_from(path, cwd)
    status, body = gateway.get("/.authgate/jwks.json")
    assert status == 200
    state = conf / "state"
    key_file = state / "assertion-keys.pem"
    assert (mode(state), mode(key_file)) == (0o700, 0o600)
    assert [k["kid"] for k in json.loads(body)["keys"]] != []
    # Nothing in the working directory but the log this test put there.
    assert sorted(p.name for p in cwd.iterdir()) == ["gateway.log.txt"]
    assert sorted(p.name for p in conf.iterdir()) == ["authgate.yaml", "state"]


def test_the_same_key_is_used_after_a_restart(tmp_path: Path, serve_from: Any) -> None:
    config = {"server": {**listen(), "state_dir": str(tmp_path / "state")},
              "secrets": {"cookie_secret": SECRET}}  # fmt: skip
    path = write_config(tmp_path / "conf", config)
    first = serve_from(path, tmp_path / "cwd")
    kids = first.get("/.authgate/jwks.json")[1]
    first.stop()
    again = serve_from(path, tmp_path / "cwd2")
    assert again.get("/.authgate/jwks.json")[1] == kids


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        pytest.param(lambda d: d.mkdir(mode=0o777) or d.chmod(0o777),
                     "writable by group or others (mode 777): chmod 700 {d}", id="world-writable"),
        pytest.param(lambda d: d.mkdir() or d.chmod(0o770),
                     "writable by group or others (mode 770): chmod 700 {d}", id="group-writable"),
        pytest.param(lambda d: d.mkdir() or d.chmod(0o1777),
                     "writable by group or others (mode 1777): chmod 700 {d}", id="sticky-tmp-like"),
        pytest.param(lambda d: d.write_text("x"), "not a folder", id="a-file"),
        pytest.param(lambda d: d.parent.joinpath("parent").write_text("x"),
                     "cannot create: Not a directory", id="parent-is-a-file"),
    ],
)  # fmt: skip
def test_an_unusable_state_dir_is_one_line_at_start(
    tmp_path: Path, prepare: Any, message: str
) -> None:
    folder = tmp_path / "state"
    prepare(folder)
    if message.startswith("cannot create"):
        folder = tmp_path / "parent" / "state"
    path = write_config(tmp_path / "conf", {
        "server": {**listen(), "state_dir": str(folder)},
        "secrets": {"cookie_secret": SECRET},
    })  # fmt: skip
    done = authgate("serve", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    expected = f"authgate: cannot start: server.state_dir {folder}: " + message.format(d=folder)
    assert expected in done.stderr.splitlines(), done.stderr


def test_a_state_dir_others_may_read_is_used_with_a_warning(
    tmp_path: Path, serve_from: Any
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o755)
    path = write_config(tmp_path / "conf", {
        "server": {**listen(), "state_dir": str(folder)},
        "secrets": {"cookie_secret": SECRET},
    })  # fmt: skip
    gateway = serve_from(path, tmp_path / "cwd")
    assert gateway.get("/.authgate/jwks.json")[0] == 200
    assert (folder / "assertion-keys.pem").exists()
    assert f"server.state_dir {folder}: readable by group or others (mode 755)" in (
        gateway.process.log_text()
    )


def test_a_state_dir_no_state_file_lives_in_is_not_touched(
    tmp_path: Path, serve_from: Any
) -> None:
    # The keys come from elsewhere (a mounted secret): the state folder stays as it is,
    # so a read-only deployment needs none.
    folder = tmp_path / "no" / "state"
    path = write_config(tmp_path / "conf", {
        "server": {**listen(), "state_dir": str(folder)},
        "secrets": {"cookie_secret": SECRET, "assertion_keys": "keys/k.pem"},
    })  # fmt: skip
    gateway = serve_from(path, tmp_path / "cwd")
    assert gateway.get("/.authgate/jwks.json")[0] == 200
    assert (tmp_path / "conf" / "keys" / "k.pem").exists()
    assert not (tmp_path / "no").exists()


def test_a_created_state_dir_is_0700_whatever_the_umask(tmp_path: Path) -> None:
    from authgate.ops.state_dir import prepare_state_dir

    folder = tmp_path / "a" / "b"
    previous = os.umask(0o277)  # would make mkdir(0o700) unwritable (0500)
    try:
        prepare_state_dir(folder)
    finally:
        os.umask(previous)
    assert mode(folder) == 0o700


# -- relative paths -------------------------------------------------------------------


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path, serve_from: Any) -> None:
    conf = tmp_path / "conf"
    (conf / "pages").mkdir(parents=True)
    (conf / "pages" / "error.html").write_text(
        "<p>custom $title $message $request_id</p>", encoding="utf-8"
    )
    path = write_config(conf, {
        "server": {**listen(), "state_dir": "state", "templates_dir": "pages"},
        "secrets": {"cookie_secret": SECRET, "assertion_keys": "keys/signing.pem"},
        "decision_log": {"sinks": [{"file": "decisions.jsonl"}]},
    })  # fmt: skip
    cwd = tmp_path / "cwd"
    gateway = serve_from(path, cwd)
    status, body = gateway.get("/")  # a route needing a login: the error page
    assert status >= 400 and body.startswith("<p>custom ")
    assert (conf / "keys" / "signing.pem").exists()
    assert (conf / "decisions.jsonl").exists()
    assert sorted(p.name for p in cwd.iterdir()) == ["gateway.log.txt"]

