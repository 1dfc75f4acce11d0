"""Checks on the gateway's own answers: the hardening headers and the page policy."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

HARDENING = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "server": "authgate",
}
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)


def assert_hardened(
    headers: Mapping[str, str], body: str = "", cache: str = "no-store"
) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, value in HARDENING.items():
        assert lowered.get(name) == value, (name, lowered)
    assert lowered.get("cache-control") == cache
    policy = lowered["content-security-policy"]
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "script-src" not in directives  # falls back to default-src 'none'
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
    if "<html" in body:
        assert not re.search(r"<script\b", body, re.IGNORECASE)
        styles = _STYLE.findall(body)
        assert styles  # the packaged pages are styled: the check below must run
        for style in styles:
            digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in directives["style-src"].split()


def assert_no_version(server: str | None) -> None:
    assert server is not None
    assert not re.search(r"\d|python|aiohttp", server, re.IGNORECASE), server
