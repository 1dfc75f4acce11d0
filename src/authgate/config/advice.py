"""Warnings about a valid config: things that serve fine but are almost surely mistakes.

Contract: `config_warnings(config, routes) -> list[ConfigProblem]`, pure and offline,
each keyed by the route it is about (the caller adds file and line). `check-config`
prints them marked `warning:` and still exits 0 when there is nothing else:

* a route fully shadowed by an earlier one (`routing.shadowing`: no request can
  reach it, so its policy, headers and upstream are dead text);
* a route with `audience: workforce` and no `policy:`: it runs the audience default
  (`authenticated AND mfa`, `policy.audience`), which admits every account of its
  providers that signed in with MFA — rarely what "internal app" meant.
"""

from __future__ import annotations

from authgate.config.errors import ConfigProblem
from authgate.config.schema import GatewayConfig
from authgate.routing.shadowing import shadowed_routes
from authgate.routing.table import RouteTable


def config_warnings(config: GatewayConfig, routes: RouteTable | None) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []
    if routes is not None:
        compiled = routes.routes
        for later, earlier in shadowed_routes(compiled):
            message = (
                f"never reached: routes[{earlier}] ({compiled[earlier].id!r}) comes first and "
                "matches every request this route matches (its hosts, path and methods)"
            )
            found.append(ConfigProblem("", None, f"routes[{later}].match", message))
    for index, route in enumerate(config.routes):
        if route.audience == "workforce" and route.policy is None:
            message = (
                "audience workforce without a policy: every account of its providers that "
                "signed in with MFA may open it; add policy.allow to say who"
            )
            found.append(ConfigProblem("", None, f"routes[{index}].audience", message))
    return found
