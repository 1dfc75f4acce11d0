"""Schema of the AuthZEN evaluation endpoint on the admin listener (pydantic v2).

Contract: shapes and local rules only (offline, pure). `authzen:` absent means the
endpoints are not served at all (default deny: a decision API nobody configured is
not there). With it, every evaluation needs `Authorization: Bearer <token>` with one
of `tokens` (32+ characters, `tokens_file` for a file): the admin listener itself has
no authentication, and policy answers tell a caller who may do what.

* `policy_decision_point` — the PDP identifier the metadata names (AuthZEN 1.0 §9.1,
  an https URL without query or fragment); default: the scheme and host the metadata
  request came to.
* `resources` — URL templates by AuthZEN resource `type`, `{id}` replaced by the
  resource's id (percent-encoded), e.g. `document: https://docs.example.com/d/{id}`;
  the types `url` (id is the URL) and `route` (id is a route id) need no template.
* `actions` — AuthZEN action names to HTTP methods, beside the built-in table
  (docs/agents.md).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl, Field, field_validator

from authgate.config.schema_auth import SecretList
from authgate.config.schema_types import Strict

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _template(value: str) -> str:
    if "{id}" not in value or not value.startswith(("http://", "https://")):
        raise ValueError("a URL template with {id}, e.g. https://docs.example.com/d/{id}")
    return value


def _method(value: str) -> str:
    if value.upper() not in _METHODS:
        raise ValueError(f"not an HTTP method: {value!r} (one of {', '.join(sorted(_METHODS))})")
    return value.upper()


class AuthzenConfig(Strict):
    tokens: SecretList
    policy_decision_point: AnyHttpUrl | None = None
    resources: dict[str, Annotated[str, AfterValidator(_template)]] = Field(default_factory=dict)
    actions: dict[str, Annotated[str, AfterValidator(_method)]] = Field(default_factory=dict)

    @field_validator("policy_decision_point")
    @classmethod
    def _identifier(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.query or value.fragment):
            raise ValueError("a PDP identifier has no query or fragment (AuthZEN 1.0 §9.1)")
        return value

    @field_validator("resources")
    @classmethod
    def _own_types(cls, value: dict[str, str]) -> dict[str, str]:
        taken = sorted({"url", "route"}.intersection(value))
        if taken:
            raise ValueError(f"{', '.join(taken)}: built-in resource types, not templates")
        return value
