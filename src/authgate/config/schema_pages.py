"""`pages:` — the operator's product name, logo and colour on the gateway's pages.

Contract: every value is checked strictly here and again where it is used
(`authgate.server.branding`): `accent` is `#rgb` / `#rrggbb` only, because it lands
inside a `<style>` block (a `;` or `}` would add CSS of its own); `logo` is a file the
gateway serves itself at `/.authgate/logo` (so the CSP keeps `img-src 'self'`);
`title` is plain text, without control characters, escaped on the page.
"""

from __future__ import annotations

from pydantic import Field

from authgate.config.paths import ConfigPath
from authgate.config.schema_types import Strict


class PagesConfig(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")
    logo: ConfigPath | None = None  # .png .svg .jpg .jpeg .gif .webp, at most 256 KiB
    accent: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?$")
