"""Migration presets: the identity headers oauth2-proxy, Authelia, Pomerium or IAP send.

Contract (a mutator's data: names and templates, nothing decides here):

* `PRESETS[name]` is a `Preset`: header templates sent in both modes (`templates`),
  templates sent only in forward-auth answers (`forward_auth`), and the names that
  carry the gateway's signed assertion (`assertion`).
* `compile_route_headers(headers, default)` compiles a route's `headers:` block: the
  route's `preset` (or, without one, the top-level `headers.preset`; `none` turns it
  off) gives the base templates, and the route's own templates extend them or, under
  the same name in any spelling, replace them. Raises `TemplateError` like
  `compile_templates`. `compile_headers(config)` compiles every route's, with the
  problems keyed from the file's root (`routes[2].headers.X-Name`): the snapshot
  keeps them, compiled once per config.

What each tool sends, and where that is documented (docs/migrating.md has the table):

* oauth2-proxy: `X-Forwarded-User/-Email/-Groups/-Preferred-Username` to the upstream
  (`pass_user_headers`), and `X-Auth-Request-User/-Email/-Groups/-Preferred-Username`
  in its `/oauth2/auth` answer for nginx `auth_request` (`set_xauthrequest`;
  oauth2-proxy.github.io/oauth2-proxy/configuration/integration). Groups are one
  comma-joined value. The user is the OIDC `sub`.
* Authelia: `Remote-User` (username), `Remote-Groups` (comma-separated),
  `Remote-Name`, `Remote-Email` (authelia.com/integration/trusted-header-sso/introduction).
* Pomerium: `X-Pomerium-Claim-<Name>` per claim, arrays comma-joined, and the signed
  `X-Pomerium-Jwt-Assertion` (pomerium.com/docs/reference/jwt-claim-headers).
* Google IAP: `X-Goog-Authenticated-User-Email: accounts.google.com:<email>`,
  `X-Goog-Authenticated-User-Id: accounts.google.com:<id>` and the signed
  `X-Goog-Iap-Jwt-Assertion` (cloud.google.com/iap/docs/identity-howto).

The assertion headers carry the gateway's own assertion (verify it with the gateway's
JWKS), not a token signed by Pomerium or Google. Every name here is also in
`spoofed.IDENTITY`, so a client's copy is stripped before these are set.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from authgate.config.errors import ConfigProblem
from authgate.mutate.encoding import normalize_name
from authgate.mutate.templates import CompiledTemplates, TemplateError, compile_templates

if TYPE_CHECKING:
    from authgate.config.schema import GatewayConfig
    from authgate.config.schema_auth import IdentityHeaders


@dataclass(frozen=True, slots=True)
class Preset:
    templates: Mapping[str, str]
    forward_auth: Mapping[str, str] = field(default_factory=dict)
    assertion: tuple[str, ...] = ()


_OAUTH2_PROXY_FIELDS = {
    "User": "{subject}",
    "Email": "{email}",
    "Groups": "{groups}",
    "Preferred-Username": "{username}",
}

PRESETS: Mapping[str, Preset] = {
    "oauth2-proxy": Preset(
        templates={f"X-Forwarded-{k}": v for k, v in _OAUTH2_PROXY_FIELDS.items()},
        forward_auth={f"X-Auth-Request-{k}": v for k, v in _OAUTH2_PROXY_FIELDS.items()},
    ),
    "authelia": Preset(
        templates={
            "Remote-User": "{username}",
            "Remote-Groups": "{groups}",
            "Remote-Name": "{name}",
            "Remote-Email": "{email}",
        }
    ),
    "pomerium": Preset(
        templates={
            "X-Pomerium-Claim-User": "{subject}",
            "X-Pomerium-Claim-Email": "{email}",
            "X-Pomerium-Claim-Groups": "{groups}",
            "X-Pomerium-Claim-Name": "{name}",
        },
        assertion=("X-Pomerium-Jwt-Assertion",),
    ),
    "iap": Preset(
        templates={
            "X-Goog-Authenticated-User-Email": "accounts.google.com:{email}",
            "X-Goog-Authenticated-User-Id": "accounts.google.com:{subject}",
        },
        assertion=("X-Goog-Iap-Jwt-Assertion",),
    ),
}
NO_PRESET = "none"


def preset_of(headers: IdentityHeaders, default: str | None) -> Preset | None:
    name = headers.preset if headers.preset is not None else default
    return None if name in (None, NO_PRESET) else PRESETS[name]


def compile_route_headers(headers: IdentityHeaders, default: str | None) -> CompiledTemplates:
    """A route's templates on top of its preset's (the route's win, name by name)."""
    own = headers.templates
    preset = preset_of(headers, default)
    if preset is None:
        return compile_templates(own)
    mine = {normalize_name(name) for name in own}
    both = compile_templates({**_unless(preset.templates, mine), **own})
    extra = compile_templates(_unless(preset.forward_auth, mine))
    assertion = tuple(n for n in preset.assertion if normalize_name(n) not in mine)
    return CompiledTemplates(both.headers, forward_auth=extra.headers, assertion_names=assertion)


def compile_headers(
    config: GatewayConfig,
) -> tuple[dict[str, CompiledTemplates], list[ConfigProblem]]:
    """Every route's header templates by route id, and the problems (a route with one
    has no entry)."""
    compiled: dict[str, CompiledTemplates] = {}
    problems: list[ConfigProblem] = []
    for index, route in enumerate(config.routes):
        try:
            compiled[route.id] = compile_route_headers(route.headers, config.headers.preset)
        except TemplateError as error:
            key = f"routes[{index}].headers.{error.header}"
            problems.append(ConfigProblem("", None, key, error.message))
    return compiled, problems


def _unless(templates: Mapping[str, str], taken: set[str]) -> dict[str, str]:
    return {n: t for n, t in templates.items() if normalize_name(n) not in taken}
