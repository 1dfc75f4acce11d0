"""`authgate explain -c FILE --url URL ...`: print the decision for a made-up request.

Contract: `add_explain_arguments(parser)` declares the options; `run_explain(args,
out)` loads the config exactly as `serve` does (`build_snapshot`), builds the
identity, calls `authgate.policy.explain.explain` and prints route, normalized
path, decision, rule, reasons (and step-up / consent details). Exit code: 0 when
allowed, 1 when denied / login / step-up, 2 when the config or the options are
unusable (a config that does not load is not "denied").

The identity: none (not logged in) unless identity options are given. `--claims
JSON` maps claims through the provider's `claims:` settings, as a login would (a
missing `sub` becomes `explain-user`; the provider's `email_verified` setting and the
groups/roles shape rules apply); `--user/--email/--groups/--roles/--acr/--amr`
build one directly (email taken as verified). The provider is `--provider`, else
the first the matched route accepts, else the first configured. The login happened
`--auth-age` seconds before the request time (`--at`, default now).
Pure module.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from authgate.config.errors import ConfigError, ConfigProblem
from authgate.config.schema import GatewayConfig
from authgate.config.schema_auth import ClaimsMapping
from authgate.config.snapshot import Snapshot, build_snapshot
from authgate.identity import Identity
from authgate.oidc.claims import identity_from_claims
from authgate.oidc.errors import TokenInvalid
from authgate.policy.explain import Explanation, Target, explain, locate
from authgate.routing import RouteTable

_IDENTITY_OPTIONS = ("user", "email", "groups", "roles", "acr", "amr")
_DEFAULT_SUBJECT = "explain-user"


class UsageError(Exception):
    """An option value that cannot be used; printed, exit code 2."""


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    parser.add_argument(
        "--url", required=True, help="the request URL, e.g. https://hr.example.com/x"
    )
    parser.add_argument("--method", default="GET", help="HTTP method (default GET)")
    parser.add_argument("--claims", help="the identity as a JSON object of token claims")
    parser.add_argument("--user", help="the identity's username (and subject)")
    parser.add_argument("--email", help="the identity's email (taken as verified)")
    parser.add_argument("--groups", action="append", help="groups, comma-separated; repeatable")
    parser.add_argument("--roles", action="append", help="roles, comma-separated; repeatable")
    parser.add_argument("--acr", help="the login's acr")
    parser.add_argument("--amr", action="append", help="login methods, comma-separated")
    parser.add_argument("--provider", help="provider id of the identity")
    parser.add_argument("--auth-age", type=float, default=0.0, help="seconds since the login")
    parser.add_argument("--ip", default="127.0.0.1", help="client IP (default 127.0.0.1)")
    parser.add_argument("--country", help="ISO country code of the client (default unknown)")
    parser.add_argument("--device", help="device facts as a JSON object")
    parser.add_argument("--risk", type=float, help="risk score (default none)")
    parser.add_argument("--at", help="request time: epoch seconds or ISO 8601 (default now)")
    parser.add_argument(
        "--grant", action="append",
        help="entitlements the identity holds an active grant of, comma-separated; repeatable",
    )  # fmt: skip


def run_explain(args: argparse.Namespace, out: TextIO) -> int:
    try:
        # It never serves: the example's placeholder secrets sign nothing here.
        snapshot = build_snapshot(args.config, allow_placeholders=True)
    except ConfigError as error:  # policy compile problems included (config/references)
        return _problems(error.problems, out)
    try:
        explanation = _explain(snapshot, args)
    except UsageError as error:
        print(f"explain: {error}", file=out)
        return 2
    _print(explanation, out)
    return 0 if explanation.allowed else 1


def _problems(problems: Iterable[ConfigProblem], out: TextIO) -> int:
    for problem in problems:
        print(problem, file=out)
    return 2


def _explain(snapshot: Snapshot, args: argparse.Namespace) -> Explanation:
    now = _request_time(args.at)
    identity = _identity(snapshot, args, now)
    return explain(
        snapshot.routes,
        snapshot.config,
        url=args.url,
        method=args.method,
        identity=identity,
        ip=args.ip,
        country=args.country.upper() if args.country else None,
        now=now,
        device=_json_object(args.device, "--device") if args.device else None,
        risk=args.risk,
        grants=frozenset(_listed(args.grant)),
    )


def _request_time(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at: not a time: {text!r} (epoch seconds or ISO 8601)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _identity(snapshot: Snapshot, args: argparse.Namespace, now: float) -> Identity | None:
    flags = [name for name in _IDENTITY_OPTIONS if getattr(args, name)]
    if args.claims and flags:
        raise UsageError(f"give --claims or --{'/--'.join(flags)}, not both")
    if not args.claims and not flags:
        return None
    provider = args.provider or _default_provider(snapshot, args, now)
    if args.claims:
        return _from_claims(
            _json_object(args.claims, "--claims"), provider, snapshot.config, now, args
        )
    return _from_flags(args, provider, now)


def _default_provider(snapshot: Snapshot, args: argparse.Namespace, now: float) -> str:
    return default_provider(snapshot.routes, snapshot.config, url=args.url, method=args.method, now=now)


def default_provider(routes: RouteTable, config: GatewayConfig, *, url: str, method: str, now: float) -> str:
    """The provider of a made-up identity: the first the URL's route accepts, else the
    first configured (what `explain` and the AuthZEN endpoint assume alike)."""
    target = locate(routes, url=url, method=method, ip="127.0.0.1", now=now)
    if isinstance(target, Target) and target.lookup.route is not None:
        accepted = target.lookup.route.config.providers
        if accepted:
            return accepted[0]
    return config.providers[0].id if config.providers else "explain"


def _from_claims(
    claims: dict[str, Any],
    provider: str,
    config: GatewayConfig,
    now: float,
    args: argparse.Namespace,
) -> Identity:
    try:
        return identity_for_claims(claims, provider, config, now - args.auth_age)
    except TokenInvalid as error:
        raise UsageError(f"--claims: {error}") from None


def identity_for_claims(
    claims: dict[str, Any], provider: str, config: GatewayConfig, auth_time: float
) -> Identity:
    """Claims as a login would map them; `TokenInvalid` when they cannot be."""
    claims.setdefault("sub", _DEFAULT_SUBJECT)
    claims.setdefault("auth_time", auth_time)
    # The provider's own settings, as a login would apply them (claims mapping,
    # email_verified: strict/assume), so explain and the gateway agree.
    settings = next((p for p in config.providers if p.id == provider), None)
    return identity_from_claims(
        claims,
        provider_id=provider,
        mapping=settings.claims if settings else ClaimsMapping(),
        credential="session",
        email_verified=settings.email_verified if settings else "strict",
    )


def _from_flags(args: argparse.Namespace, provider: str, now: float) -> Identity:
    return Identity(
        subject=args.user or args.email or _DEFAULT_SUBJECT,
        provider=provider,
        credential="session",
        email=args.email,
        email_verified=True if args.email else None,
        username=args.user,
        groups=_listed(args.groups),
        roles=_listed(args.roles),
        acr=args.acr,
        amr=_listed(args.amr),
        auth_time=now - args.auth_age,
    )


def _listed(values: list[str] | None) -> tuple[str, ...]:
    return tuple(
        item.strip() for value in values or () for item in value.split(",") if item.strip()
    )


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{option}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: must be a JSON object")
    return value


def _print(explanation: Explanation, out: TextIO) -> None:
    print(f"route:    {explanation.route_id or '(none)'}", file=out)
    print(f"path:     {explanation.path or '(refused)'}", file=out)
    print(f"decision: {explanation.decision} ({explanation.status})", file=out)
    print(f"rule:     {explanation.rule or '(none)'}", file=out)
    print(f"reasons:  {', '.join(explanation.reasons) or '(none)'}", file=out)
    for key, value in explanation.extra:
        print(f"{key + ':':<9} {value}", file=out)
