"""Named people and token shapes the session tests share."""

from __future__ import annotations

import base64
import json
import os

from authgate.identity import Identity

IDLE = 3600.0
MAX_LIFETIME = 8 * 3600.0
SECRET_NEW = "new-secret-0123456789-abcdefghijklmnop"
SECRET_OLD = "old-secret-0123456789-abcdefghijklmnop"
SECRET_OTHER = "other-secret-0123456789-abcdefghijklmn"


def alice(provider: str = "corp", subject: str = "248289761001") -> Identity:
    """A workforce user with a few groups, as `oidc.claims` builds her."""
    groups = ("hr-staff", "engineering", "vpn-users", "all-employees")
    claims = {
        "iss": "https://login.corp.example.com/realms/corp",
        "sub": subject,
        "email": "alice@corp.example.com",
        "email_verified": True,
        "name": "Alice Martin",
        "preferred_username": "alice",
        "groups": list(groups),
        "auth_time": 1767225500,
        "acr": "urn:corp:mfa",
        "amr": ["pwd", "otp"],
    }
    return Identity(
        subject=subject,
        provider=provider,
        credential="session",
        email="alice@corp.example.com",
        email_verified=True,
        name="Alice Martin",
        username="alice",
        groups=groups,
        roles=("employee", "hr-reader"),
        acr="urn:corp:mfa",
        amr=("pwd", "otp"),
        auth_time=1767225500.0,
        claims=claims,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_shaped(size: int = 800) -> str:
    """An RS256-JWT-shaped string of about `size` characters (random signature)."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1-2026"}).encode())
    signature = _b64(os.urandom(256))  # RSA-2048: 342 characters
    payload_chars = max(size - len(header) - len(signature) - 2, 16)
    filler = "x" * (payload_chars * 3 // 4 - 40)
    payload = _b64(json.dumps({"sub": "248289761001", "scope": "openid", "f": filler}).encode())
    return f"{header}.{payload}.{signature}"
