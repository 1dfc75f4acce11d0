"""Who made the request: the identity model shared by sessions and bearer tokens.

Contract: `Identity` is a frozen value built by an authenticator (session cookie or
bearer JWT) and read by policy, header mutation and the decision log. The same model
whatever the credential, so the same policies apply to browsers and APIs.
Pure module: no aiohttp, redis or authlib imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CredentialKind = Literal["session", "bearer"]


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str  # the provider's `sub`
    provider: str  # the configured provider id
    credential: CredentialKind
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
    username: str | None = None  # preferred_username, for display and headers
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: float | None = None
    # The gateway session, never the provider's `sid`. A bearer credential: kept out
    # of repr() so it never lands in a log line.
    session_id: str | None = field(default=None, repr=False)
    claims: Mapping[str, Any] = field(default_factory=dict)  # all claims, for templates
    # "groups" / "roles" when that claim was present but not a JSON array of strings:
    # not trusted as membership (empty above), and criteria on it say so.
    mistyped: tuple[str, ...] = ()

    @property
    def user(self) -> str:
        """What the decision log shows: a stable, readable id."""
        return self.username or self.email or self.subject

    @property
    def verified_email(self) -> str | None:
        """The email only when the provider asserted it verified (`email_verified` is
        JSON true, or the provider is declared `email_verified: assume`). Upstream
        apps take an identity header's email as an account key: an unverified one is
        the nOAuth takeover (Descope, 2023), so headers and the assertion carry only
        this."""
        return self.email if self.email_verified is True else None

    @property
    def upstream_user(self) -> str:
        """What the `user` header and the assertion show: as `user`, but never an
        unverified email (then the provider's `sub`)."""
        return self.username or self.verified_email or self.subject
