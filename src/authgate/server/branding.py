"""The operator's product name, logo and colour on the gateway's pages (`pages:`).

Contract: `load_branding(title, logo, accent)` runs once, with the pages, and returns
a frozen `Branding`: a `<style>` block setting `--accent` (the templates colour links
and buttons with `var(--accent, …)`), a header with the logo and the name, and the
logo's bytes, which the gateway serves itself at `LOGO_PATH` — so the pages' CSP keeps
`img-src 'self'` and no page makes the browser call a third party (no tracking pixel
by configuration). Without any of the three the pages are exactly the packaged ones.

Guards:
- `accent` is only `#rgb` or `#rrggbb` (checked again here after the schema): the
  value goes inside a `<style>` block, where a `;` or `}` would add rules of its own
  (CSS injection, CWE-79 family); the block's SHA-256 goes into the CSP like the
  templates' own, so the browser applies nothing else.
- the logo is a file of a known image type, at most `MAX_LOGO_BYTES`; an SVG is served
  with the pages' `default-src 'none'` policy, and as an `<img>` it never runs script.
- the name is HTML-escaped like every other value of a page.
Raises `BrandingError` ("what: problem"; a ValueError, so serve refuses to start).
No aiohttp.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

LOGO_PATH = "/.authgate/logo"
MAX_LOGO_BYTES = 256 * 1024
LOGO_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
ACCENT = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?")
_HEADER_STYLE = (
    "header.brand{display:flex;align-items:center;gap:.6rem;font-weight:600;"
    "font-size:1.1rem;margin-bottom:1.5rem}header.brand img{height:2.5rem;width:auto}"
)


class BrandingError(ValueError):
    """A `pages:` value the gateway cannot use; the message starts with what."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what}: {problem}")


@dataclass(frozen=True, slots=True)
class Logo:
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Branding:
    style: str = ""  # a whole <style> element, or nothing
    header: str = ""  # the <header class="brand"> element, or nothing
    logo: Logo | None = None


NO_BRANDING = Branding()


def load_branding(title: str | None, logo: Path | None, accent: str | None) -> Branding:
    if title is None and logo is None and accent is None:
        return NO_BRANDING
    return Branding(_style(accent), _header(title, logo is not None), _logo(logo))


def _style(accent: str | None) -> str:
    if accent is not None and not ACCENT.fullmatch(accent):
        raise BrandingError("pages.accent", "write a colour as #rgb or #rrggbb")
    colour = f":root{{--accent:{accent}}}" if accent is not None else ""
    return f"<style>{colour}{_HEADER_STYLE}</style>"


def _header(title: str | None, has_logo: bool) -> str:
    name = f"<span>{html.escape(title, quote=True)}</span>" if title else ""
    # With a name beside it the logo is decoration (WCAG H67); alone, it names the product.
    alt = "" if title else "Logo"
    image = f'<img src="{LOGO_PATH}" alt="{alt}">' if has_logo else ""
    return f'<header class="brand">{image}{name}</header>' if image or name else ""


def _logo(path: Path | None) -> Logo | None:
    if path is None:
        return None
    content_type = LOGO_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise BrandingError(str(path), f"the logo must be one of {', '.join(LOGO_TYPES)}")
    try:
        body = path.read_bytes()
    except OSError as error:
        raise BrandingError(str(path), f"cannot read the logo: {error.strerror}") from None
    if len(body) > MAX_LOGO_BYTES:
        raise BrandingError(str(path), f"the logo is larger than {MAX_LOGO_BYTES // 1024} KiB")
    return Logo(content_type, body)
