"""`pages:` branding, the denied page's actions, "start over", the chooser's
"Create account": pure rendering and validation, no gateway."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema_pages import PagesConfig
from authgate.oidc.metadata import parse_metadata
from authgate.server.branding import MAX_LOGO_BYTES, BrandingError, load_branding
from authgate.server.pages import DeniedActions, PageRenderer

RID = "req-1"
INJECTIONS = [
    "red",
    "#0a7d4f;}body{display:none",
    "#0a7d4f}",
    "#12345",
    "#1234567",
    "url(https://evil.test/x)",
    "#0a7d4f\n",
    " #0a7d4f",
    "var(--x)",
    "#0a7d4f</style><script>",
    "expression(alert(1))",
    "",
]


def hashes(text: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in re.findall(r"<style>(.*?)</style>", text, re.DOTALL)
    }


@pytest.mark.parametrize("accent", INJECTIONS)
def test_the_schema_takes_only_hex_colours(accent: str) -> None:
    with pytest.raises(ValidationError) as error:
        PagesConfig(accent=accent)
    assert error.value.errors()[0]["loc"] == ("accent",)


@pytest.mark.parametrize("accent", INJECTIONS)
def test_branding_refuses_them_again(accent: str) -> None:
    with pytest.raises(BrandingError, match="pages.accent"):
        load_branding(None, None, accent)


@pytest.mark.parametrize("accent", ["#abc", "#0A7D4F", "#0a7d4f"])
def test_hex_colours_are_taken(accent: str) -> None:
    assert PagesConfig(accent=accent).accent == accent
    assert f"--accent:{accent}}}" in load_branding(None, None, accent).style


@pytest.mark.parametrize("title", ["Acme\nPortal", "\x00", "", "x" * 81])
def test_titles_are_one_short_printable_line(title: str) -> None:
    with pytest.raises(ValidationError):
        PagesConfig(title=title)


def test_no_pages_config_leaves_the_pages_as_packaged() -> None:
    plain = PageRenderer(None)
    assert "header" not in plain.render_logged_out(RID) and "--accent:" not in plain.render_logged_out(RID)


def test_every_page_carries_the_brand_and_the_csp_names_its_style(tmp_path: Path) -> None:
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    pages = PageRenderer(None, load_branding('Acme "One" <b>', logo, "#0a7d4f"))
    rendered = [
        pages.render_error(502, "upstream-unreachable", RID),
        pages.render_denied(["groups-unauthorized"], RID, "hr", "bob", DeniedActions("t", "/x")),
        pages.render_chooser([("corp", "Corp", "/.authgate/start?provider=corp")], RID),
        pages.render_logged_out(RID),
        pages.render_sign_in_unavailable(502, "provider-unreachable", "Corp", "/x", RID),
        pages.render_logout_confirm("t", RID, "bob"),
    ]
    policy = pages.content_security_policy
    for page in rendered:
        assert "<span>Acme &quot;One&quot; &lt;b&gt;</span>" in page
        assert '<img src="/.authgate/logo" alt="">' in page
        assert all(h in policy for h in hashes(page))
    assert pages.branding.logo is not None and pages.branding.logo.content_type == "image/svg+xml"


def test_a_logo_alone_names_the_product(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG")
    assert 'alt="Logo"' in load_branding(None, logo, None).header


@pytest.mark.parametrize(
    ("name", "size", "problem"),
    [("logo.exe", 10, "must be one of"), ("logo.png", MAX_LOGO_BYTES + 1, "larger than"), ("missing.png", -1, "cannot read")],
)
def test_logos_the_gateway_will_not_serve(tmp_path: Path, name: str, size: int, problem: str) -> None:
    path = tmp_path / name
    if size >= 0:
        path.write_bytes(b"x" * size)
    with pytest.raises(BrandingError, match=problem):
        load_branding(None, path, None)


def test_denied_actions_post_the_csrf_token_and_link_a_fresh_login() -> None:
    page = PageRenderer(None).render_denied(
        ["groups-unauthorized"], RID, "hr", "bob", DeniedActions('tok"<', "/.authgate/start?rd=x&switch=1")
    )
    assert '<form class="actions" method="post" action="/.authgate/logout">' in page
    assert 'name="csrf_token" value="tok&quot;&lt;"' in page
    assert 'id="denied-sign-out"' in page
    assert 'id="switch-account" href="/.authgate/start?rd=x&amp;switch=1"' in page
    bare = PageRenderer(None).render_denied(["groups-unauthorized"], RID, "hr", None)
    assert "denied-sign-out" not in bare and "switch-account" not in bare


@pytest.mark.parametrize("target", ["javascript:alert(1)", "//evil.test/", "data:text/html,x"])
def test_unsafe_start_over_and_switch_links_are_refused(target: str) -> None:
    pages = PageRenderer(None)
    with pytest.raises(ValueError):
        pages.render_error(502, "upstream-unreachable", RID, target)
    with pytest.raises(ValueError):
        pages.render_denied([], RID, None, "bob", DeniedActions("t", target))


def test_error_page_start_over() -> None:
    page = PageRenderer(None).render_error(502, "upstream-unreachable", RID, "/reports?a=1&b=2")
    assert '<a class="action" id="start-over" href="/reports?a=1&amp;b=2">Start over</a>' in page


def test_chooser_lists_create_account_after_sign_in() -> None:
    page = PageRenderer(None).render_chooser(
        [("shop", "Shop", "/.authgate/start?provider=shop")],
        RID,
        [("shop", "Shop", "/.authgate/start?provider=shop&signup=1")],
    )
    assert page.index("Continue with Shop") < page.index("Create an account with Shop")
    assert 'id="create-account-shop" href="/.authgate/start?provider=shop&amp;signup=1"' in page


DOCUMENT: dict[str, Any] = {
    "issuer": "https://id.example.com",
    "authorization_endpoint": "https://id.example.com/auth",
    "token_endpoint": "https://id.example.com/token",
    "jwks_uri": "https://id.example.com/jwks",
}


@pytest.mark.parametrize(
    ("published", "values"),
    [(None, ()), (["login", "create"], ("login", "create")), ([], ())],
)
def test_discovery_prompt_values(published: list[str] | None, values: tuple[str, ...]) -> None:
    document = DOCUMENT if published is None else DOCUMENT | {"prompt_values_supported": published}
    assert parse_metadata(document, configured_issuer="https://id.example.com").prompt_values_supported == values
