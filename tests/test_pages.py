"""PageRenderer: every page renders, escapes, refuses unsafe links, and loads strictly.

Override folders are built in `tmp_path` from the packaged templates, changed by one
edit each, so each test shows exactly which difference it is about.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from authgate.decision import Reason
from authgate.server.pages import (
    GENERIC_REASON,
    PAGES,
    PLAIN_REASONS,
    PageRenderer,
    TemplateError,
    plain_reason,
    safe_href,
)

RID = "req-7f3a9c"
PROVIDERS = [
    ("corp", "Corporate login", "/.authgate/start?provider=corp&rd=%2Fx"),
    ("shop", "Shop account", "/.authgate/start?provider=shop&rd=%2Fx"),
    ("google", "Google", "https://shop.example.com/.authgate/start?provider=google"),
]
# Codes that describe an allowed or in-progress request, never a refusal.
NOT_REFUSALS = {
    "route-public", "user-authenticated", "gateway-endpoint", "login-started",
    "login-completed", "login-chooser", "logout", "backchannel-logout", "logout-confirm",
    # grant events: decision records of their own, never a request's refusal
    "grant-requested", "grant-approved", "grant-denied", "grant-activated", "grant-expired",
    "grant-revoked", "grant-break-glass",
    # a Shared Signals transmitter's delivery (signals/): answered in JSON to it, never a page
    "signal-accepted", "signal-acknowledged", "signal-authentication-failed",
    "signal-event-unknown", "signal-invalid", "signal-subject-unknown",
}


@pytest.fixture(scope="module")
def pages() -> PageRenderer:
    return PageRenderer(None)


def packaged(name: str) -> str:
    return resources.files("authgate").joinpath("templates", name).read_text("utf-8")


def override(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    (tmp_path / name).write_text(edit(packaged(name)), "utf-8")
    return tmp_path


def render_all(pages: PageRenderer) -> dict[str, str]:
    return {
        "error.html": pages.render_error(502, "upstream-unreachable", RID),
        "denied.html": pages.render_denied(["groups-unauthorized"], RID, "hr", "alice@corp"),
        "chooser.html": pages.render_chooser(PROVIDERS, RID),
        "logged_out.html": pages.render_logged_out(RID),
        "sign_in_unavailable.html": pages.render_sign_in_unavailable(
            502, "provider-unreachable", "Corp SSO", "https://app.example.com/x?y=1", RID
        ),
        "logout_confirm.html": pages.render_logout_confirm("tok-123", RID, "alice@corp"),
        "access.html": pages.render_access("<h2>Your grants</h2>", RID, "alice@corp", ""),
    }


# --- every page ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders_small_accessible_and_self_contained(pages: PageRenderer, name: str) -> None:
    page = render_all(pages)[name]
    assert f"<code>{RID}</code>" in page
    assert len(page.encode("utf-8")) < 4096
    assert '<html lang="en">' in page and "<main>" in page and "<h1" in page
    assert '<meta charset="utf-8">' in page
    lowered = page.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src="):
        assert forbidden not in lowered, forbidden
    assert not re.search(r"\son[a-z]+=", lowered), "an event handler attribute"
    assert "$" not in page, "an unfilled placeholder"


def test_links_have_visible_focus_styles(pages: PageRenderer) -> None:
    rendered = render_all(pages)
    for name in ("chooser.html", "logged_out.html", "sign_in_unavailable.html"):
        assert ":focus-visible{outline:3px solid" in rendered[name]


def test_error_page_keeps_its_placeholders() -> None:
    used = set(re.findall(r"\$(\w+)", packaged("error.html")))
    assert used == {
        "status", "title", "message", "reason", "request_id", "start_over", "brand_style", "brand"
    }


# --- error ----------------------------------------------------------------------------


def test_error_page_says_what_happened(pages: PageRenderer) -> None:
    page = pages.render_error(504, "upstream-timeout", RID)
    assert "<title>504 Application timed out</title>" in page
    assert "took too long to answer" in page
    assert "<code>upstream-timeout</code>" in page


def test_error_page_for_an_unlisted_status(pages: PageRenderer) -> None:
    page = pages.render_error(418, "gateway-error", RID)
    assert "<h1>Error</h1>" in page and "<code>418</code>" in page


def test_error_page_escapes(pages: PageRenderer) -> None:
    page = pages.render_error(400, '<img src=x onerror="alert(1)">', '"><script>')
    assert "<img" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&quot;&gt;&lt;script&gt;" in page


# --- denied ---------------------------------------------------------------------------


def test_denied_page_explains_known_codes(pages: PageRenderer) -> None:
    page = pages.render_denied(["token-expired", "groups-unauthorized"], RID, "hr", "alice")
    assert "<h1>Access denied</h1>" in page
    assert f"<li>{PLAIN_REASONS['token-expired']}</li>" in page
    assert "<li>You are not in a group that may use this application.</li>" in page
    assert "<code>token-expired, groups-unauthorized</code>" in page
    assert "<dd>hr</dd>" in page and "<dd>alice</dd>" in page


def test_denied_page_unknown_code_gets_the_generic_sentence(pages: PageRenderer) -> None:
    page = pages.render_denied(["quantum-flux", "moon-phase"], RID, None, None)
    assert page.count(f"<li>{GENERIC_REASON.replace(chr(39), '&#x27;')}</li>") == 1
    assert "<code>quantum-flux, moon-phase</code>" in page
    assert "<dd>none matched</dd>" in page and "<dd>not signed in</dd>" in page


def test_denied_page_without_codes(pages: PageRenderer) -> None:
    page = pages.render_denied([], RID, "hr", None)
    assert "<li>The gateway&#x27;s access rules do not allow this request.</li>" in page
    assert "<code>none</code>" in page


def test_denied_page_escapes_user_route_and_codes(pages: PageRenderer) -> None:
    page = pages.render_denied(["<b>x</b>"], RID, "<i>r</i>", "<script>alert(1)</script>")
    assert "<script>" not in page and "<b>x" not in page and "<i>r" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_values_are_not_template_text(pages: PageRenderer) -> None:
    page = pages.render_denied(["user-unauthenticated"], RID, "$route", "${request_id}")
    assert "<dd>$route</dd>" in page and "<dd>${request_id}</dd>" in page


@pytest.mark.parametrize(
    "code",
    [
        "user-unauthenticated", "route-not-found", "host-unknown", "path-invalid",
        "method-not-allowed", "login-state-mismatch", "login-iss-mismatch",
        "login-provider-error", "token-expired", "token-signature-invalid",
        "token-audience-invalid", "token-issuer-invalid", "upstream-unreachable",
        "upstream-timeout", "session-expired", "store-unavailable",
    ],
)
def test_plain_reason_for_required_codes(code: str) -> None:
    sentence = plain_reason(code)
    assert sentence != GENERIC_REASON
    assert sentence[0].isupper() and sentence.endswith(".")
    assert "-" not in sentence.split()[0], "a sentence, not a code"


def test_every_refusal_reason_has_plain_words() -> None:
    refusals = {reason.value for reason in Reason} - NOT_REFUSALS
    assert refusals - PLAIN_REASONS.keys() == set()


def test_plain_reason_unknown_code() -> None:
    assert plain_reason("no-such-code") == GENERIC_REASON


# --- chooser --------------------------------------------------------------------------


def test_chooser_lists_every_provider_as_a_link(pages: PageRenderer) -> None:
    page = pages.render_chooser(PROVIDERS, RID)
    assert "<h1 id=\"choose\">Choose how to sign in</h1>" in page
    assert '<ul class="providers" aria-labelledby="choose">' in page
    assert page.count('<a class="provider"') == 3
    assert (
        '<a class="provider" href="/.authgate/start?provider=corp&amp;rd=%2Fx" '
        'data-provider="corp">Continue with Corporate login</a>'
    ) in page
    assert 'href="https://shop.example.com/.authgate/start?provider=google"' in page


def test_chooser_escapes_display_name_and_id(pages: PageRenderer) -> None:
    page = pages.render_chooser([('x"><b', "<script>alert(1)</script>", "/s")], RID)
    assert "<script>" not in page and '"><b' not in page
    assert "Continue with &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-provider="x&quot;&gt;&lt;b"' in page


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>", "vbscript:x", "//evil.com/start",
        "/\\evil.com", "\\\\evil.com", "start", "", "/x y", "/x\t", "/x\n",
        "https://good.example/\\x", "httpx://good.example/", "/caf\u00e9", "/\u202ex",
    ],
)
def test_chooser_refuses_unsafe_start_url(pages: PageRenderer, url: str) -> None:
    with pytest.raises(ValueError, match="refusing to render link"):
        pages.render_chooser([("corp", "Corporate", url)], RID)


@pytest.mark.parametrize(
    "url", ["/", "/.authgate/start?provider=a&rd=%2F", "http://h/x", "https://h:8443/x?y#z"]
)
def test_safe_href_accepts_local_paths_and_http_urls(url: str) -> None:
    assert safe_href(url) == url.replace("&", "&amp;")


def test_chooser_without_providers(pages: PageRenderer) -> None:
    page = pages.render_chooser([], RID)
    assert "No way of signing in is configured here" in page


# --- logged out -----------------------------------------------------------------------


def test_logged_out_page(pages: PageRenderer) -> None:
    page = pages.render_logged_out(RID)
    assert "<h1>You are signed out</h1>" in page and '<a href="/">Sign in again</a>' in page


def test_logout_confirm_page_is_a_plain_post_form(pages: PageRenderer) -> None:
    page = pages.render_logout_confirm('t"<x', RID, "<b>mallory</b>")
    assert '<form method="post" action="/.authgate/logout">' in page
    assert '<input type="hidden" name="csrf_token" value="t&quot;&lt;x">' in page
    assert '<button type="submit" id="logout-confirm">' in page
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page and "<b>" not in page


def test_logout_confirm_page_needs_its_token(tmp_path: Path) -> None:
    folder = override(tmp_path, "logout_confirm.html", lambda t: t.replace("$csrf_token", ""))
    with pytest.raises(TemplateError, match=r"missing placeholder\(s\): \$csrf_token"):
        PageRenderer(folder)


# --- loading --------------------------------------------------------------------------


def test_override_changes_only_that_page(tmp_path: Path, pages: PageRenderer) -> None:
    folder = override(tmp_path, "denied.html", lambda t: t.replace("Access denied", "Nope"))
    custom = render_all(PageRenderer(folder))
    default = render_all(pages)
    assert "<h1>Nope</h1>" in custom["denied.html"]
    assert custom["denied.html"] != default["denied.html"]
    for name in ("error.html", "chooser.html", "logged_out.html"):
        assert custom[name] == default[name], name


def test_override_may_leave_out_optional_placeholders(tmp_path: Path) -> None:
    folder = override(tmp_path, "denied.html", lambda t: t.replace("<dd>$route</dd>", ""))
    page = PageRenderer(folder).render_denied(["x"], RID, "secret-route-id", None)
    assert "secret-route-id" not in page and RID in page


def test_empty_override_folder_is_the_packaged_set(tmp_path: Path, pages: PageRenderer) -> None:
    assert render_all(PageRenderer(tmp_path)) == render_all(pages)


def test_missing_placeholder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    folder = override(tmp_path, "denied.html", lambda t: t.replace("$request_id", "?"))
    with pytest.raises(TemplateError, match=r"denied\.html: missing placeholder\(s\): \$request_id"):
        PageRenderer(folder)


def test_unknown_placeholder_is_an_error(tmp_path: Path) -> None:
    folder = override(tmp_path, "chooser.html", lambda t: t + "$colour")
    with pytest.raises(TemplateError, match=r"chooser\.html: unknown placeholder\(s\): \$colour"):
        PageRenderer(folder)


def test_invalid_dollar_is_an_error(tmp_path: Path) -> None:
    folder = override(tmp_path, "error.html", lambda t: t + "costs $5")
    with pytest.raises(TemplateError, match=r"error\.html: invalid '\$' placeholder"):
        PageRenderer(folder)


def test_dollar_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    folder = override(tmp_path, "logged_out.html", lambda t: t.replace("</main>", "$$5</main>"))
    assert "$5</main>" in PageRenderer(folder).render_logged_out(RID)


def test_unreadable_template_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "error.html").write_bytes(b"\xff\xfe not utf-8 $request_id")
    with pytest.raises(TemplateError, match=r"error\.html: cannot read template"):
        PageRenderer(tmp_path)


def test_template_that_is_a_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "error.html").mkdir()
    with pytest.raises(TemplateError, match=r"error\.html: cannot read template"):
        PageRenderer(tmp_path)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        PageRenderer(tmp_path / "nope")


def test_misspelled_page_in_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "denid.html").write_text(packaged("denied.html"), "utf-8")
    (tmp_path / "style.css").write_text("body{}", "utf-8")
    with pytest.raises(TemplateError, match=r"denid\.html: not a page authgate renders"):
        PageRenderer(tmp_path)


def test_template_error_carries_file_and_problem(tmp_path: Path) -> None:
    folder = override(tmp_path, "logged_out.html", lambda t: t.replace("$request_id", ""))
    with pytest.raises(TemplateError) as caught:
        PageRenderer(folder)
    assert caught.value.file == str(folder / "logged_out.html")
    assert "$request_id" in caught.value.problem


def test_module_loads_no_web_framework() -> None:
    probe = "import authgate.server.pages, sys; print('aiohttp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


# --- Content-Security-Policy: the styles by hash, no script ------------------------


def _hash(style: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


def test_policy_names_every_packaged_style_and_nothing_else(pages: PageRenderer) -> None:
    styles = {
        block
        for name in PAGES
        for block in re.findall(r"<style>(.*?)</style>", packaged(name), re.DOTALL)
    }
    assert styles
    policy = pages.content_security_policy
    style_src = next(d for d in policy.split("; ") if d.startswith("style-src "))
    assert sorted(style_src.split()[1:]) == sorted(_hash(s) for s in styles)
    assert policy.startswith("default-src 'none'; ")
    assert policy.endswith("frame-ancestors 'none'")


def test_an_override_style_is_hashed_as_written(tmp_path: Path) -> None:
    folder = override(
        tmp_path, "error.html", lambda t: t.replace("</head>", "<STYLE media=print>p{}</STYLE></head>")
    )
    assert _hash("p{}") in PageRenderer(folder).content_security_policy


def test_pages_without_styles_allow_no_style(tmp_path: Path) -> None:
    for name in PAGES:
        override(tmp_path, name, lambda t: re.sub(r"<style>.*?</style>", "", t, flags=re.DOTALL))
    assert "style-src 'none'" in PageRenderer(tmp_path).content_security_policy


@pytest.mark.parametrize("script", ["<script>alert(1)</script>", "<SCRIPT src=/x.js></SCRIPT>"])
def test_a_template_with_a_script_is_refused(tmp_path: Path, script: str) -> None:
    folder = override(tmp_path, "denied.html", lambda t: t.replace("</main>", script + "</main>"))
    with pytest.raises(TemplateError, match=r"denied\.html: pages carry no <script>"):
        PageRenderer(folder)


@pytest.mark.parametrize("inside", ["$request_id", "$$"])
def test_a_dollar_inside_a_style_is_refused(tmp_path: Path, inside: str) -> None:
    folder = override(tmp_path, "error.html", lambda t: t.replace("<style>", "<style>/*" + inside + "*/"))
    with pytest.raises(TemplateError, match=r"error\.html: no '\$' inside <style>"):
        PageRenderer(folder)


# --- sign-in service unavailable ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "title", "sentence"),
    [
        (502, "Sign-in service unreachable", "could not reach Corp SSO, the service you sign in with"),
        (504, "Sign-in service timed out", "Corp SSO, the service you sign in with, did not answer"),
    ],
)
def test_sign_in_page_names_the_provider(
    pages: PageRenderer, status: int, title: str, sentence: str
) -> None:
    page = pages.render_sign_in_unavailable(status, "provider-x", "Corp SSO", "/x?a=1&b=2", RID)
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page
    assert sentence in page
    assert 'href="/x?a=1&amp;b=2"' in page
    assert "Application" not in page


def test_sign_in_page_escapes_the_provider_name(pages: PageRenderer) -> None:
    page = pages.render_sign_in_unavailable(502, "r", "<b>{x}</b>", "/", RID)
    assert "&lt;b&gt;{x}&lt;/b&gt;" in page and "<b>" not in page


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/", "data:text/html,x"])
def test_sign_in_page_refuses_an_unsafe_retry_link(pages: PageRenderer, url: str) -> None:
    with pytest.raises(ValueError, match="refusing to render link"):
        pages.render_sign_in_unavailable(502, "r", "Corp SSO", url, RID)
