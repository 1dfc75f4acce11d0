"""`make demo` as a new user sees it: what it installs, its progress, and a real Chromium
walking through it — alice (admin) opens both apps, bob (employee) is denied the admin
console with the gateway's denied page and signs out from there. Screenshots go to
test-artifacts/demo-*.png.

The live run is `make demo PORT=<free port>` from this checkout, as a subprocess in its
own process group. Its two install stamps are pointed at files this test has just
touched, so make skips `pip install` and `npm ci` (offline here, and the shared venv of
the test run must not be re-pointed); what the install step runs is checked with
`make -n` instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from authgate.demo.provider import provider_config
from tests.testbed.browser import save_screenshot
from tests.testbed.ports import free_port, port_is_open

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"authgate demo is ready: open (http://demo\.localhost:\d+)/")
ISSUER = re.compile(r"sign-in service at (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 120.0  # seconds; generous, the machine is shared


def _outside_make() -> dict[str, str]:
    """The environment without what a surrounding `make test` passes to sub-makes
    (MAKEFLAGS carries `-w`, which prints "Entering directory" lines, and the outer
    command line's variables): the demo is run as a user runs it, from a shell."""
    inherited = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
    return {k: v for k, v in os.environ.items() if k not in inherited}


def _make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-n", *args], cwd=REPO, env={**_outside_make(), **env},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


def test_make_demo_installs_the_gateway_without_the_test_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plan = _make("demo", f"VENV={venv}", f"OIDC_STAMP={tmp_path / 'npm-stamp'}").stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert len(installs) == 1, plan
    assert re.search(r"pip install .*-e \.( |$)", installs[0]), installs[0]
    assert "[test]" not in plan and ".authgate-installed" not in plan  # not `make venv`
    # A line per step while it installs, and the test bed's provider comes along.
    assert 'echo "demo: installing authgate' in plan
    assert "npm ci --prefix testbed/oidc" in plan
    assert 'echo "installing the OpenID Provider' in plan
    assert plan.rstrip().endswith(f"{venv}/bin/python -m authgate.demo --port 8080")


def test_make_demo_port_moves_the_gateway(tmp_path: Path) -> None:
    plan = _make("demo", "PORT=8123", f"DEMO_STAMP={_touched(tmp_path / 'a')}",
                 f"OIDC_STAMP={_touched(tmp_path / 'b')}").stdout  # fmt: skip
    assert plan.strip() == f"{Path('.venv')}/bin/python -m authgate.demo --port 8123"


@pytest.mark.parametrize("port", [8080, 8081, 23456])
def test_the_providers_redirect_uris_follow_the_port(port: int) -> None:
    template = json.loads((REPO / "config/demo/provider.json").read_text(encoding="utf-8"))
    before = json.dumps(template)
    config = provider_config(template, f"http://demo.localhost:{port}")
    (client,) = config["clients"]
    assert client["redirect_uris"] == [f"http://demo.localhost:{port}/.authgate/callback"]
    assert client["post_logout_redirect_uris"] == [
        f"http://demo.localhost:{port}/.authgate/logged-out"
    ]
    assert json.dumps(template) == before  # the template is left as it was
    assert config["port"] == 0  # the provider picks a free port; its issuer is read back
    assert {k: v for k, v in config.items() if k != "clients"} == {
        k: v for k, v in template.items() if k != "clients"
    }


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # Without this check the wait for the port would succeed at once and the printed
    # URL would lead to whatever already listens there.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "authgate.demo", "--port", str(port)], cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "src"),
                 "AUTHGATE_DEMO_STATE": str(tmp_path / ".demo")},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is already in use: try `make demo PORT={port + 1}`" in done.stderr
    assert "starting" not in done.stdout and "ready" not in done.stdout


def _touched(path: Path) -> Path:
    path.touch()
    return path


@dataclass
class Demo:
    origin: str
    issuer: str
    port: int
    output: Path
    process: subprocess.Popen[bytes]

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith('{"time"')]


def _wait_ready(output: Path, process: subprocess.Popen[bytes], port: int) -> tuple[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = output.read_text(encoding="utf-8", errors="replace")
        ready, issuer = READY.search(text), ISSUER.search(text)
        if ready and issuer:
            # The URL is printed only once the gateway listens.
            assert port_is_open("127.0.0.1", port), text
            return ready.group(1), issuer.group(1)
        if process.poll() is not None:
            pytest.fail(f"make demo exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    pytest.fail(f"make demo printed no URL within {START_TIMEOUT:.0f} s:\n{output.read_text()}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    # The whole group: make, the launcher and its children. The group may be gone
    # already when make failed at start (its failure is what the test reports).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    output = tmp_path / "make-demo.log"
    argv = [
        "make", "demo", f"PORT={port}", f"VENV={sys.prefix}",
        f"DEMO_STAMP={_touched(tmp_path / 'demo-stamp')}",
        f"OIDC_STAMP={_touched(tmp_path / 'npm-stamp')}",
    ]  # fmt: skip
    env = {
        **_outside_make(),
        "PYTHONPATH": str(REPO / "src"),
        "AUTHGATE_DEMO_STATE": str(tmp_path / ".demo"),
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        origin, issuer = _wait_ready(output, process, port)
        yield Demo(origin, issuer, port, output, process)
    finally:
        _stop_group(process)
    # Ctrl-C / SIGTERM stops every part: nothing keeps the port.
    assert not port_is_open("127.0.0.1", port)


async def _sign_in(page: Page, demo: Demo, user: str, shot: str) -> None:
    await page.goto(f"{demo.origin}/")
    assert page.url.startswith(demo.issuer)  # the provider's login page
    await save_screenshot(page, shot)
    await page.fill("#login", user)
    await page.fill("#password", user)
    await page.click("#submit")
    await page.wait_for_url(f"{demo.origin}/")


async def _finish_sign_out(page: Page, demo: Demo) -> None:
    """Through the gateway's confirmation (POST) and the provider's, to `logged-out`."""
    logged_out = f"{demo.origin}/.authgate/logged-out"
    for _ in range(3):
        if page.url.startswith(logged_out):
            return
        if page.url.startswith(demo.issuer):  # the provider asks too
            await page.click("#logout-yes")
        else:
            await page.click("#logout-confirm")
        await page.wait_for_load_state()
    await page.wait_for_url(logged_out)


async def _sign_out_from_denied_page(page: Page, demo: Demo) -> None:
    # The denied page's own sign-out: the same POST as the logout page's form.
    await page.click("#denied-sign-out")
    await page.wait_for_load_state()
    await _finish_sign_out(page, demo)


@pytest.mark.slow
async def test_make_demo_in_a_real_browser(page: Page, demo: Demo) -> None:
    # The provider's login page is a small product's, not the test form.
    await page.goto(f"{demo.origin}/")
    assert page.url.startswith(demo.issuer)
    assert "Northwind ID" in (await page.title())
    assert await page.locator("#otp, #acr, #amr, #ts, details").count() == 0
    background = await page.eval_on_selector("#submit", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(37, 99, 235)"  # the brand's accent
    assert "alice" in (await page.text_content("#hint") or "")

    await _sign_in(page, demo, "alice", "demo-1-sign-in")
    assert await page.text_content("h1") == "Handbook"
    assert "alice@example.com" in (await page.text_content("body") or "")
    await save_screenshot(page, "demo-2-alice-handbook")
    response = await page.goto(f"{demo.origin}/admin/")
    assert response is not None and response.status == 200
    assert await page.text_content("h1") == "Admin console"
    await save_screenshot(page, "demo-3-alice-admin-console")
    await page.goto(f"{demo.origin}/.authgate/logout")
    await _finish_sign_out(page, demo)

    await _sign_in(page, demo, "bob", "demo-4-bob-sign-in")
    assert "bob@example.com" in (await page.text_content("body") or "")
    response = await page.goto(f"{demo.origin}/admin/")
    assert response is not None and response.status == 403
    assert await page.text_content("h1") == "Access denied"
    assert "bob" in (await page.text_content("body") or "")
    assert "Northwind apps" in (await page.text_content("body") or "")  # pages.title
    assert await page.locator("#switch-account").count() == 1
    await save_screenshot(page, "demo-5-bob-denied")

    await _sign_out_from_denied_page(page, demo)
    await save_screenshot(page, "demo-6-signed-out")
    await page.goto(f"{demo.origin}/admin/")
    assert page.url.startswith(demo.issuer)  # signed out: asked to sign in again

    records = demo.records()
    assert [(r["route"], r["user"], r["status"]) for r in records if r["decision"] == "deny"] == [
        ("admin-console", "bob", 403)
    ]
    assert any(r["route"] == "admin-console" and r["user"] == "alice" and r["status"] == 200
               for r in records)  # fmt: skip
    assert [r["user"] for r in records if r["reason"] == "logout"] == ["alice", "bob"]
