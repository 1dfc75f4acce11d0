"""Subject identifiers (RFC 9493, SSF 1.0 §3) read as the sessions they name.

Contract: `subject_of(value, issuers)` reads one subject identifier and answers the
`Subject` it names among this provider's sessions — the `sub`s, the provider `sid`s
and the email addresses — or None when it names nothing the gateway can match (a
phone number, a device, a `sub` of another issuer, junk). Pure module.

Formats read:
- `iss_sub` {iss, sub}: a `sub` when `iss` is one of `issuers` (the provider's OIDC
  issuer, or the transmitter's: an org and its authorization servers share user ids);
  compared modulo one trailing slash, as discovery issuers are.
- `email` {email}: lowercased (RFC 5321 local parts are case-sensitive in theory,
  never in the providers that send these; the session index is lowercased too).
- `opaque` {id}: as the provider's `sub` at the top level or as `user`, as the
  provider's `sid` as the `session` of a complex subject (SSF 1.0 §3.2: the format is
  agreed between the two parties; these are the uses SSF's examples show).
- `aliases` {identifiers: [...]}: every identifier it lists (RFC 9493 §3.2.7; nested
  aliases are refused there, and ignored here).
- `complex` {user, session, ...} (SSF 1.0 §3.2): the session's `sid` and the user's
  identifier; members about devices, tenants, groups and applications are ignored.
- The pre-RFC form still sent by RISC transmitters: `subject_type` instead of
  `format`, with `-` for `_` (`iss-sub`), and `id_token_claims` {iss, sub}.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from authgate.oidc.metadata import same_issuer

_MAX_ALIASES = 16  # a bounded fan-out: one SET cannot name a thousand subjects


@dataclass(frozen=True, slots=True)
class Subject:
    """What a subject identifier names among one provider's sessions."""

    subs: tuple[str, ...] = ()
    sids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.subs or self.sids or self.emails)

    def __or__(self, other: Subject) -> Subject:
        return Subject(self.subs + other.subs, self.sids + other.sids, self.emails + other.emails)

    @property
    def user(self) -> str | None:
        """The one `sub` or email that names the user, for records."""
        return next(iter(self.subs + self.emails), None)


def subject_of(value: object, issuers: Collection[str]) -> Subject | None:
    """The sessions `value` names (see the module contract), or None."""
    found = _read(value, issuers, depth=0)
    return found if found else None


def _format(value: Mapping[str, Any]) -> str | None:
    name = value.get("format", value.get("subject_type"))
    return name.replace("-", "_") if isinstance(name, str) else None


def _read(value: object, issuers: Collection[str], depth: int, role: str = "user") -> Subject:
    if not isinstance(value, dict) or depth > 2:
        return Subject()
    kind = _format(value)
    if kind in ("iss_sub", "id_token_claims"):
        return _iss_sub(value, issuers)
    if kind == "email":
        email = _text(value, "email")
        return Subject(emails=(email.lower(),)) if email else Subject()
    if kind == "opaque":
        ident = _text(value, "id")
        if not ident:
            return Subject()
        return Subject(sids=(ident,)) if role == "session" else Subject(subs=(ident,))
    if kind == "aliases" and depth == 0:
        return _aliases(value.get("identifiers"), issuers, depth)
    if kind == "complex" or (kind is None and ("user" in value or "session" in value)):
        return _read(value.get("user"), issuers, depth + 1) | _read(
            value.get("session"), issuers, depth + 1, role="session"
        )
    return Subject()


def _iss_sub(value: Mapping[str, Any], issuers: Collection[str]) -> Subject:
    iss, sub = _text(value, "iss"), _text(value, "sub")
    if not iss or not sub or not any(same_issuer(iss, known) for known in issuers):
        return Subject()
    return Subject(subs=(sub,))


def _aliases(identifiers: object, issuers: Collection[str], depth: int) -> Subject:
    found = Subject()
    if isinstance(identifiers, list):
        for item in identifiers[:_MAX_ALIASES]:
            found = found | _read(item, issuers, depth + 1)
    return found


def _text(value: Mapping[str, Any], name: str) -> str | None:
    item = value.get(name)
    return item if isinstance(item, str) and item else None
