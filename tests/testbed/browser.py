"""A real browser for the tests: Chromium driven by Playwright's async API.

Why this shape
--------------
Playwright's *sync* API refuses to run inside a running asyncio loop, and our tests are
async (pytest-asyncio, ``asyncio_mode = "auto"``). Its *async* API objects are bound to
the event loop that started Playwright, and pytest-asyncio gives every test its own loop
(``asyncio_default_fixture_loop_scope = "function"``). A session-scoped Playwright
``Browser`` would live in a session loop; a test running in its own loop, or using
function-scoped async fixtures such as ``echo_upstream``, would then hang or fail with
"attached to a different loop". So:

``chromium`` (session): ONE headless Chromium process (``/usr/bin/chromium`` with the
  flags from TESTBED.md), remote-debugging on a loopback port. Handle ``ChromiumProcess``:
  ``cdp_url``, ``pid``, ``version``, ``executable``, ``startup_seconds``, ``stop()``,
  ``check_alive()``, ``log_text()``.
``browser`` (function, the test's own loop): a Playwright ``Browser`` connected to that
  process over CDP (``connect_over_cdp``; ~0.5 s, mostly starting Playwright's driver),
  disconnected after the test. The Chromium process survives.
``page`` (function): a ``Page`` in a fresh, isolated ``BrowserContext`` (own cookies and
  storage), closed after the test. When the test fails (or xfails), a screenshot is saved as
  ``test-artifacts/FAILED-<test name>.png``.

``save_screenshot(page, name) -> Path`` (async) writes ``test-artifacts/<name>.png``.

Cookies are per host, not per port: run the IdP on 127.0.0.2 and the gateway on
127.0.0.1. Mark browser tests ``@pytest.mark.slow`` if they take long.

Executable: ``AUTHGATE_TEST_CHROMIUM`` if set, else ``/usr/bin/chromium`` or ``chromium``
on PATH, else a browser installed by ``playwright install chromium``; else the fixture
fails with ``sudo apt-get install chromium``.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.testbed.ports import ManagedProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
APT_HINT = "sudo apt-get install chromium"

# From TESTBED.md, plus a few of the defaults Playwright itself uses for automation.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-hang-monitor",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-client-side-phishing-detection",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--password-store=basic",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
]


def find_chromium() -> str | None:
    override = os.environ.get("AUTHGATE_TEST_CHROMIUM")
    if override:
        return override
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    cache = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-linux/chrome"):
        matches = sorted(glob.glob(os.path.join(cache, pattern)))
        if matches:
            return matches[-1]
    return None


class ChromiumProcess:
    """A headless Chromium with remote debugging on 127.0.0.1 (port chosen by Chromium)."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        self.profile_dir = workdir / "profile"
        self.profile_dir.mkdir()
        self.cdp_url = ""
        self.version = ""
        self.startup_seconds = 0.0
        self.process: ManagedProcess | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> None:
        started = time.monotonic()
        argv = [
            self.executable,
            "--headless",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile_dir}",
            *CHROMIUM_FLAGS,
            "about:blank",
        ]
        process = ManagedProcess("chromium", argv, self.workdir / "chromium.log")
        port_file = self.profile_dir / "DevToolsActivePort"
        deadline = started + timeout
        while True:
            if process.poll() is not None:
                process.fail(f"exited with code {process.returncode} at start")
            lines = port_file.read_text().split() if port_file.exists() else []
            if lines and lines[0].isdigit():
                self.cdp_url = f"http://127.0.0.1:{lines[0]}"
                try:
                    with urllib.request.urlopen(f"{self.cdp_url}/json/version", timeout=2) as r:
                        self.version = str(json.loads(r.read()).get("Browser", ""))
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                process.stop()
                process.fail(f"no DevTools endpoint within {timeout:.0f}s")
            time.sleep(0.02)
        self.process = process
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def check_alive(self) -> None:
        if self.process is None:
            pytest.fail("chromium is stopped", pytrace=False)
        self.process.check_alive()

    def log_text(self, limit: int = 8000) -> str:
        return self.process.log_text(limit) if self.process else ""


@pytest.fixture(scope="session")
def chromium() -> Iterator[ChromiumProcess]:
    executable = find_chromium()
    if executable is None:
        pytest.fail(
            f"chromium not found. Install it with:\n    {APT_HINT}\n"
            "(or `.venv/bin/playwright install chromium` on a machine with internet access, "
            "or set AUTHGATE_TEST_CHROMIUM=/path/to/chrome)",
            pytrace=False,
        )
    workdir = Path(tempfile.mkdtemp(prefix="authgate-chromium-"))
    process = ChromiumProcess(executable, workdir)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture
async def browser(chromium: ChromiumProcess) -> AsyncIterator[Browser]:
    """A Playwright Browser in this test's event loop, connected to the session Chromium."""
    chromium.check_alive()
    playwright = await async_playwright().start()
    try:
        connected = await playwright.chromium.connect_over_cdp(chromium.cdp_url)
        try:
            yield connected
        finally:
            await connected.close()  # disconnects; contexts created by the test are closed
    finally:
        await playwright.stop()
    chromium.check_alive()


@pytest_asyncio.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page in a fresh browser context; screenshot on failure."""
    context = await browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(15_000)
    context.set_default_navigation_timeout(15_000)
    new_page = await context.new_page()
    try:
        yield new_page
    finally:
        report = getattr(request.node, "_testbed_call_report", None)
        failed = report is not None and (report.failed or hasattr(report, "wasxfail"))
        if failed and not new_page.is_closed():
            try:
                await save_screenshot(new_page, f"FAILED-{request.node.name}")
            except Exception:  # noqa: BLE001 - a screenshot must never hide the failure
                pass
        await context.close()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:150] or "screenshot"


async def save_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save ``test-artifacts/<name>.png`` (directory created; git-ignored) and return it."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{_safe_name(name)}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call":
        item._testbed_call_report = report  # type: ignore[attr-defined]
    return report


__all__ = [
    "CHROMIUM_FLAGS",
    "ChromiumProcess",
    "browser",
    "chromium",
    "find_chromium",
    "page",
    "save_screenshot",
]
