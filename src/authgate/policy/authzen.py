"""AuthZEN 1.0 access evaluations, answered by `explain` (pure core).

Contract: `evaluation(body, pdp)` answers one Access Evaluation request (AuthZEN
Authorization API 1.0 §6) and `evaluations(body, pdp)` an Access Evaluations request
(§7: defaults from the top level, `options.evaluations_semantic` of `execute_all`
(default), `deny_on_first_deny`, `permit_on_first_permit`), where `pdp` holds the
running snapshot. Every question is answered by `policy.explain.explain` — the
gateway's own routing, normalization and `decide()` — so the API, the proxy and
`authgate explain` cannot disagree. A request that is not a JSON object of the right
shape raises `BadRequest` (the caller answers 400 with a JSON error, §10.1.2); in a
batch, an evaluation that cannot be mapped is `{"decision": false, "context":
{"error": {"status": 400, "message": ...}}}` (§7.2.1) and the others are answered.

The mapping (docs/agents.md):

* subject → an identity, as `authgate explain --claims` builds one: the claims are
  `properties` with `sub` = `id` (so `groups`, `roles`, `email` + `email_verified`,
  `acr`, `amr`, `auth_time` and any claim a `claim` criterion reads), mapped through
  the provider's `claims:` settings; `properties.provider` picks the provider (else
  the first the route accepts). `type` is not used for the decision.
* resource → a URL: type `url` (id is the URL), `route` (id is a route id; the URL is
  its first literal host and `properties.path`, default its path prefix or `/`), or a
  type with a template in `authzen.resources`.
* action → the HTTP method: `properties.method`, else `authzen.actions`, else the
  built-in table (`can_read`/`read` GET, `can_create`/`create` POST, `can_update`/
  `update`/`can_edit`/`edit` PUT, `can_delete`/`delete` DELETE, `can_access` GET, an
  HTTP method name itself).
* context → the request's signals: `ip` (else `subject.properties.ip_address`, else
  127.0.0.1), `country`, `time` (ISO 8601 or epoch seconds; default now), `device`
  (an object), `risk` (a number). Unknown keys are ignored (§10.1.1).
The decision is `true` only for `allow`; `context` carries what explain prints:
`route`, `path`, `outcome`, `status`, `rule`, `reasons`, and the step-up values
(`acr_values`, `amr_values`, `max_age`, as in §5.5.2's example 3).
Pure module.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from authgate.config.schema import GatewayConfig
from authgate.config.schema_authzen import AuthzenConfig
from authgate.oidc.errors import TokenInvalid
from authgate.policy.compile import RoutePolicy
from authgate.policy.explain import Explanation, explain
from authgate.policy.explain_cli import default_provider, identity_for_claims
from authgate.routing import RouteTable

SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
_ACTIONS = {
    "can_access": "GET", "can_read": "GET", "read": "GET", "view": "GET",
    "can_create": "POST", "create": "POST",
    "can_update": "PUT", "update": "PUT", "can_edit": "PUT", "edit": "PUT",
    "can_delete": "DELETE", "delete": "DELETE",
}  # fmt: skip
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_EVALUATIONS = 100  # a batch is bounded: each is a full policy evaluation


class BadRequest(Exception):
    """The request (or one evaluation of a batch) cannot be mapped: a 400."""


@dataclass(frozen=True, slots=True)
class Pdp:
    """What the answers are computed from: one generation's snapshot."""

    routes: RouteTable
    config: GatewayConfig
    policies: Mapping[str, RoutePolicy]
    settings: AuthzenConfig
    now: float


def evaluation(body: object, pdp: Pdp) -> dict[str, Any]:
    """§6: one Access Evaluation request → one Decision."""
    request = _object(body, "the request")
    return _decision(_explained(request, pdp))


def evaluations(body: object, pdp: Pdp) -> dict[str, Any]:
    """§7: a batch with top-level defaults; without `evaluations`, one evaluation."""
    request = _object(body, "the request")
    items = request.get("evaluations")
    if items is None or items == []:
        return evaluation(request, pdp)  # §7.1: backwards compatible
    if not isinstance(items, list) or len(items) > _MAX_EVALUATIONS:
        raise BadRequest(f"evaluations: a list of at most {_MAX_EVALUATIONS} objects")
    semantic = _semantic(request.get("options"))
    defaults = {k: request[k] for k in ("subject", "resource", "action", "context") if k in request}
    answers: list[dict[str, Any]] = []
    for item in items:
        answer = _batch_answer(defaults, item, pdp)
        answers.append(answer)
        if semantic == "deny_on_first_deny" and not answer["decision"]:
            break
        if semantic == "permit_on_first_permit" and answer["decision"]:
            break
    return {"evaluations": answers}


def _batch_answer(defaults: Mapping[str, Any], item: object, pdp: Pdp) -> dict[str, Any]:
    try:
        return _decision(_explained({**defaults, **_object(item, "an evaluation")}, pdp))
    except BadRequest as error:  # §7.2.1: this one fails closed, the others stand
        return {"decision": False, "context": {"error": {"status": 400, "message": str(error)}}}


def _semantic(options: object) -> str:
    if options is None:
        return "execute_all"
    semantic = _object(options, "options").get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise BadRequest(f"options.evaluations_semantic: one of {', '.join(SEMANTICS)}")
    return str(semantic)


def _explained(request: Mapping[str, Any], pdp: Pdp) -> Explanation:
    subject = _entity(request, "subject", "id")
    action = _entity(request, "action", "name")
    url = resource_url(_entity(request, "resource", "id"), pdp)
    method = action_method(action, pdp.settings)
    context = _object(request.get("context", {}), "context")
    now = _time(context.get("time"), pdp.now)
    properties = dict(_object(subject.get("properties", {}), "subject.properties"))
    provider = properties.pop("provider", None)
    if provider is not None and not isinstance(provider, str):
        raise BadRequest("subject.properties.provider: a provider id")
    provider = provider or default_provider(pdp.routes, pdp.config, url=url, method=method, now=now)
    try:
        identity = identity_for_claims({**properties, "sub": subject["id"]}, provider, pdp.config, now)
    except TokenInvalid as error:
        raise BadRequest(f"subject.properties: {error}") from None
    return explain(
        pdp.routes, pdp.config, url=url, method=method, identity=identity,
        ip=_ip(context.get("ip", properties.get("ip_address", "127.0.0.1"))),
        country=_country(context.get("country")), now=now,
        device=_optional_object(context.get("device"), "context.device"),
        risk=_risk(context.get("risk")), policies=pdp.policies,
    )


def resource_url(resource: Mapping[str, Any], pdp: Pdp) -> str:
    """The URL a resource stands for (see the module doc)."""
    kind, rid = resource["type"], resource["id"]
    properties = _object(resource.get("properties", {}), "resource.properties")
    if kind == "url":
        if urlsplit(rid).scheme not in ("http", "https") or not urlsplit(rid).netloc:
            raise BadRequest("resource: a url resource's id is an absolute http(s) URL")
        return str(rid)
    if kind == "route":
        return _route_url(rid, properties, pdp)
    template = pdp.settings.resources.get(kind)
    if template is None:
        known = ", ".join(["url", "route", *sorted(pdp.settings.resources)])
        raise BadRequest(f"resource.type {kind!r}: not mapped to a URL (known: {known})")
    return template.replace("{id}", quote(rid, safe=""))


def _route_url(route_id: str, properties: Mapping[str, Any], pdp: Pdp) -> str:
    config = next((r for r in pdp.config.routes if r.id == route_id), None)
    if config is None:
        raise BadRequest(f"resource: no route {route_id!r}")
    hosts = config.match.host if isinstance(config.match.host, list) else [config.match.host]
    host = properties.get("host") or next((h for h in hosts if "*" not in h), None)
    if not isinstance(host, str):
        raise BadRequest(f"resource: route {route_id!r} matches only wildcard hosts: give properties.host")
    path = properties.get("path", config.match.path_prefix or "/")
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadRequest("resource.properties.path: a path starting with /")
    scheme = "http" if properties.get("scheme") == "http" else "https"
    return f"{scheme}://{host}{path}"


def action_method(action: Mapping[str, Any], settings: AuthzenConfig) -> str:
    """The HTTP method an action stands for (see the module doc)."""
    properties = _object(action.get("properties", {}), "action.properties")
    method = properties.get("method")
    name = action["name"]
    if method is None:
        method = settings.actions.get(name) or _ACTIONS.get(name) or name.upper()
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise BadRequest(f"action {name!r}: no HTTP method (map it in authzen.actions)")
    return method.upper()


def _decision(explanation: Explanation) -> dict[str, Any]:
    context: dict[str, Any] = {
        "route": explanation.route_id,
        "path": explanation.path,
        "outcome": explanation.decision,
        "status": explanation.status,
        "rule": explanation.rule,
        "reasons": list(explanation.reasons),
    }
    extra = dict(explanation.extra)
    for ours, theirs in (("acr_values", "acr_values"), ("amr", "amr_values"), ("max_age", "max_age")):
        if ours in extra:
            context[theirs] = extra[ours]
    return {"decision": explanation.allowed, "context": context}


def _entity(request: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any]:
    entity = request.get(name)
    if entity is None:
        raise BadRequest(f"{name} is required (AuthZEN 1.0 §6.1)")
    entity = _object(entity, name)
    for field in ("type", key) if name != "action" else (key,):
        if not isinstance(entity.get(field), str) or not entity[field]:
            raise BadRequest(f"{name}.{field}: a non-empty string is required")
    return entity


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what}: a JSON object is required")
    return value


def _optional_object(value: object, what: str) -> Mapping[str, Any] | None:
    return None if value is None else _object(value, what)


def _time(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise BadRequest("context.time: ISO 8601 or epoch seconds")


def _ip(value: object) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise BadRequest("context.ip: an IP address") from None


def _country(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
        raise BadRequest("context.country: an ISO 3166-1 alpha-2 code")
    return value.upper()


def _risk(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest("context.risk: a number")
    return float(value)
