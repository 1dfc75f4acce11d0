"""Hygiene (issue 10): no key in the repository, state in `server.state_dir`, paths
taken from the config file's folder, placeholder and short secrets refused.

End to end through `authgate serve` / `authgate check-config` as subprocesses, each
started from a working directory that is neither the repository nor the config's
folder, so that anything written "beside the process" would show.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.config.loader import load_config
from authgate.demo.state import prepare_demo_state
from authgate.ops.state_dir import prepare_state_dir
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


# Keys that are public on purpose: config/example.yaml's `partners` provider reads
# this one (`client_key.pem_file`), so the example loads as shipped. It says so in
# its first line; a key without that line, or anywhere else, fails the test.
EXAMPLE_KEYS = {"config/example-client-key.pem"}


def test_no_private_key_is_tracked() -> None:
    holding_keys = []
    for name in tracked_files():
        path = REPO / name
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if name in EXAMPLE_KEYS and data.startswith(b"Example only:"):
                continue
            if b"PRIVATE KEY-----" in data and "/files/" not in name:
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


# -- placeholder and short secrets ----------------------------------------------------

EXAMPLE = REPO / "config" / "example.yaml"
COMMANDS = {
    "check-config": lambda path: ("check-config", str(path)),
    "serve": lambda path: ("serve", "-c", str(path)),
}


def example_placeholder_lines() -> list[int]:
    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(text, start=1) if ":-example-only" in line]


def test_check_config_reports_exactly_the_examples_placeholders() -> None:
    env = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    done = subprocess.run(
        # --config-only: the example's TLS and GeoIP files are not on this machine.
        [sys.executable, "-m", "authgate", "check-config", "--config-only", "config/example.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    lines = example_placeholder_lines()
    keys = [
        "secrets.cookie_secret[0]", "providers[0].client_secret", "decision_log.pseudonym_key",
        "authzen.tokens[0]",
    ]
    assert len(lines) == len(keys)
    assert [line.split(": ", 1)[0] for line in done.stdout.splitlines()] == [
        f"config/example.yaml:{line} {key}" for line, key in zip(lines, keys, strict=True)
    ]
    assert all("a placeholder of config/example.yaml" in line for line in done.stdout.splitlines())
    assert "example-only" not in done.stdout  # the value is not echoed


PLACEHOLDER = "example-only-secret-replace-me-with-32-random-bytes"
PROVIDER = {"id": "corp", "issuer": "https://login.example.com", "client_id": "gw"}
# (config, the key the problem names, text on its line): the placeholder wherever a
# secret goes; the line is None where the YAML dump puts the value on a line of its own.
PLACES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "cookie-secret": (
        {"secrets": {"cookie_secret": PLACEHOLDER}}, "secrets.cookie_secret[0]", "cookie_secret:"
    ),
    "second-cookie-secret": (
        {"secrets": {"cookie_secret": [SECRET, PLACEHOLDER]}}, "secrets.cookie_secret[1]",
        f"- {PLACEHOLDER}",
    ),
    "client-secret": (
        {"secrets": {"cookie_secret": SECRET},
         "providers": [{**PROVIDER, "client_secret": "example-only"}]},
        "providers[0].client_secret", "client_secret:",
    ),
    "pseudonym-key": (
        {"decision_log": {"sinks": [{"stdout": True, "pseudonymize": ["user"]}],
                          "pseudonym_key": PLACEHOLDER}},
        "decision_log.pseudonym_key", "pseudonym_key:",
    ),
    "redis-password": (
        {"store": {"backend": "memory", "cluster": {"nodes": ["10.0.0.1:6379"],
                                                    "password": "example-only-pw"}}},
        "store.cluster.password", "password:",
    ),
    # Read from a file: named as the user wrote it, on the `_file` key's line.
    "from-a-secret-file": (
        {"secrets": {"cookie_secret_file": "cookie.txt"}}, "secrets.cookie_secret_file[0]",
        "cookie_secret_file:",
    ),
}  # fmt: skip


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_placeholder_secret_is_refused_with_file_and_line(
    tmp_path: Path, command: str, place: str
) -> None:
    config, key, needle = PLACES[place]
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "cookie.txt").write_text(PLACEHOLDER + "\n", encoding="utf-8")
    server = {**listen(), "state_dir": str(tmp_path / "state")}
    path = write_config(tmp_path / "conf", {"server": server, **config})
    done = authgate(*COMMANDS[command](path), cwd=tmp_path)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    problems = [text for text in output.splitlines() if "a placeholder of config/example.yaml" in text]
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        f"{path}:{line_of(path, needle)} {key}"
    ], output
    assert "example-only" not in output  # the value is never echoed
    assert not (tmp_path / "state").exists()  # refused before anything was written


def test_a_reload_to_a_placeholder_secret_is_refused_and_the_old_one_serves(
    tmp_path: Path, serve_from: Any
) -> None:
    config = {"server": {**listen(), "state_dir": str(tmp_path / "state")},
              "secrets": {"cookie_secret": SECRET}}  # fmt: skip
    path = write_config(tmp_path / "conf", config)
    gateway = serve_from(path, tmp_path / "cwd")
    keys = gateway.get("/.authgate/jwks.json")
    write_config(tmp_path / "conf", {**config, "secrets": {"cookie_secret": PLACEHOLDER}})
    gateway.process.popen.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "rejected" not in gateway.process.log_text():
        assert time.monotonic() < deadline, gateway.process.log_text()
        time.sleep(0.05)
    log = gateway.process.log_text()
    assert f"{path}:{line_of(path, 'cookie_secret:')} secrets.cookie_secret[0]: a placeholder" in log
    assert gateway.get("/.authgate/jwks.json") == keys  # still serving the old config


def test_explain_answers_about_the_example_without_real_secrets() -> None:
    # `authgate explain` never serves: the one tool that lets placeholders through.
    env = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "authgate", "explain", "-c", "config/example.yaml",
         "--url", "https://hr.corp.example.com/payroll/x", "--user", "alice",
         "--groups", "hr-staff", "--amr", "pwd,otp", "--country", "US"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "route:    hr" in done.stdout, done.stdout + done.stderr
    assert "placeholder" not in done.stdout


SHORT = "s" * 31
# (config, key, accepted): the length rule on every key of our own, at the boundary.
LENGTHS: dict[str, tuple[dict[str, Any], str, bool]] = {
    "cookie-31": ({"secrets": {"cookie_secret": SHORT}}, "secrets.cookie_secret", False),
    "cookie-32": ({"secrets": {"cookie_secret": SHORT + "s"}}, "", True),
    "second-cookie-31": (
        {"secrets": {"cookie_secret": [SECRET, SHORT]}}, "secrets.cookie_secret[1]", False
    ),
    "cookie-16-chars-32-bytes": (
        {"secrets": {"cookie_secret": "é" * 16}}, "secrets.cookie_secret", False
    ),
    "pseudonym-31": (
        {"decision_log": {"sinks": ["stdout"], "pseudonym_key": SHORT}},
        "decision_log.pseudonym_key", False,
    ),
    "pseudonym-32": ({"decision_log": {"sinks": ["stdout"], "pseudonym_key": SHORT + "s"}}, "", True),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LENGTHS))
def test_secrets_shorter_than_32_are_refused_with_file_and_line(tmp_path: Path, case: str) -> None:
    config, key, accepted = LENGTHS[case]
    path = write_config(tmp_path, {"server": listen(), **config})
    done = authgate("check-config", str(path), cwd=tmp_path)
    if accepted:
        assert done.returncode == 0, done.stdout
        return
    assert done.returncode == 1
    (problem,) = done.stdout.splitlines()
    line = line_of(path, key.rpartition(".")[2].split("[")[0] + ":")
    if key.endswith("[1]"):
        line += 2  # the second item of the list, on its own line
    assert problem.startswith(f"{path}:{line} {key}: a secret must be at least 32 characters")


def test_serve_refuses_a_short_cookie_secret_before_listening(tmp_path: Path) -> None:
    server = listen()
    path = write_config(tmp_path, {"server": server, "secrets": {"cookie_secret": SHORT}})
    done = authgate("serve", "-c", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert f"{path}:" in done.stderr and "secrets.cookie_secret: a secret must be at least 32" in (
        done.stderr
    )


# -- the demo's own secret ------------------------------------------------------------


def test_the_demo_generates_its_secret_once_0600_and_reuses_it(tmp_path: Path) -> None:
    for checkout in ("checkout", "other-checkout"):
        (tmp_path / checkout).mkdir()
    first = prepare_demo_state(tmp_path / "checkout")
    secret = (first / "cookie-secret").read_text(encoding="ascii")
    assert (mode(first), mode(first / "cookie-secret")) == (0o700, 0o600)
    assert len(secret.strip()) >= 32
    assert prepare_demo_state(tmp_path / "checkout") == first  # a second run
    assert (first / "cookie-secret").read_text(encoding="ascii") == secret
    other = prepare_demo_state(tmp_path / "other-checkout")
    assert (other / "cookie-secret").read_text(encoding="ascii") != secret


def test_the_demo_config_carries_no_secret_and_keeps_state_in_dot_demo(tmp_path: Path) -> None:
    state = prepare_demo_state(tmp_path)
    config = load_config(REPO / "config" / "demo.yaml", {"AUTHGATE_DEMO_STATE": str(state)})
    assert config.secrets is not None
    assert config.secrets.cookie_secret == [(state / "cookie-secret").read_text().strip()]
    assert config.server.state_dir == str(state)
    # Without the variable: the checkout's own .demo/, whatever the working directory.
    text = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    assert "state_dir: ${AUTHGATE_DEMO_STATE:-../.demo}" in text
    assert "cookie_secret:" not in text
    done = subprocess.run(
        [sys.executable, "-m", "authgate", "check-config", str(REPO / "config" / "demo.yaml")],
        cwd=tmp_path, env={**os.environ, "AUTHGATE_DEMO_STATE": str(state)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
