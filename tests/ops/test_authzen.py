"""The AuthZEN 1.0 endpoints of a real gateway's admin listener, checked against `explain`.

Every request below is an example of the OpenID AuthZEN Authorization API 1.0 text
(§5.1.2 subjects, §6.1.1 the evaluation, §7.1 the batches, §7.1.1 defaults, §7.1.2.1
the three semantics), sent to `authgate serve`; each evaluation in it is also put to
`authgate explain` (its own argument parser and printer, with the same config file)
as the documented mapping says — URL from the resource, method from the action,
`--claims` from the subject, `--at`/`--ip`/`--country` from the context — and the
two answers must agree: decision, route, path, rule, reasons and status.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from authgate.policy.explain_cli import add_explain_arguments, run_explain
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port, wait_for_port

TOKEN = "authzen-pep-token-0123456789abcdefghijkl"
ALICE = {"type": "user", "id": "alice@example.com"}
DOCS = "https://docs.example.com/documents/"


def config(upstream: str, admin_port: int) -> dict[str, Any]:
    def route(rid: str, host: str, policy: dict[str, Any]) -> dict[str, Any]:
        return {"id": rid, "match": {"host": host}, "upstream": upstream, "policy": policy}

    return {
        "server": {"admin_listen": f"127.0.0.1:{admin_port}"},
        "secrets": {"cookie_secret": ["test-cookie-secret-0123456789abcdefghijklmnop"]},
        "providers": [{"id": "corp", "issuer": "https://login.example.com", "client_id": "authgate"}],
        "authzen": {
            "tokens": [TOKEN],
            "resources": {
                "account": "https://bank.example.com/accounts/{id}",
                "document": DOCS + "{id}",
                "book": "https://library.example.com/books/{id}",
            },
            "actions": {"extend-loan": "POST"},
        },
        "routes": [
            route("bank", "bank.example.com", {"allow": [{"and": [{"user": ["alice@example.com"]}, {"method": ["GET"]}]}]}),
            route("docs", "docs.example.com", {
                "allow": [{"user": ["alice@example.com"]}],
                "deny": [{"path": ["/documents/2", "/documents/resource-search.md"]}],
            }),
            route("library", "library.example.com", {
                "allow": [{"and": [{"claim": {"path": "department", "equals": "Sales"}}, {"method": ["GET"]}]}],
            }),
            route("geo", "geo.example.com", {"allow": [{"and": [{"authenticated": True}, {"ip": ["172.217.0.0/16"]}]}]}),
        ],
    }


@pytest.fixture
def pdp(echo_upstream: Any, gateway_factory: Callable[..., Gateway]) -> tuple[Gateway, str]:
    port = free_port()
    gateway = gateway_factory(config(str(echo_upstream.make_url("/")).rstrip("/"), port))
    wait_for_port("127.0.0.1", port, timeout=15.0, process=gateway.process)
    return gateway, f"http://127.0.0.1:{port}"


async def post(url: str, body: Any, *, token: str | None = TOKEN, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=sent) as r:
        return r.status, dict(r.headers), await r.json()


# ---------------------------------------------------------------- explain, as the CLI runs


def url_of(resource: dict[str, Any]) -> str:
    templates = {"account": "https://bank.example.com/accounts/", "document": DOCS, "book": "https://library.example.com/books/"}
    return templates[resource["type"]] + resource["id"]


METHODS = {"can_read": "GET", "read": "GET", "can_edit": "PUT", "extend-loan": "POST"}


def explain(config_file: Path, evaluation: dict[str, Any]) -> dict[str, Any]:
    """`authgate explain` for one evaluation, parsed from its printed answer."""
    subject, context = evaluation["subject"], evaluation.get("context", {})
    properties = subject.get("properties", {})
    action = evaluation["action"]
    argv = [
        "-c", str(config_file), "--url", url_of(evaluation["resource"]),
        "--method", action.get("properties", {}).get("method", METHODS[action["name"]]),
        "--claims", json.dumps({**properties, "sub": subject["id"]}),
        "--ip", context.get("ip", properties.get("ip_address", "127.0.0.1")),
    ]
    if "time" in context:
        argv += ["--at", context["time"]]
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    out = io.StringIO()
    run_explain(parser.parse_args(argv), out)
    lines = dict(line.split(":", 1) for line in out.getvalue().splitlines())
    outcome, status = lines["decision"].split()
    reasons = lines["reasons"].strip()
    return {
        "decision": outcome == "allow",
        "context": {
            "route": None if lines["route"].strip() == "(none)" else lines["route"].strip(),
            "path": lines["path"].strip(),
            "outcome": outcome,
            "status": int(status.strip("()")),
            "rule": None if lines["rule"].strip() == "(none)" else lines["rule"].strip(),
            "reasons": [] if reasons == "(none)" else reasons.split(", "),
        },
    }


def expanded(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The evaluations of a batch with the top-level defaults applied (§7.1.1)."""
    defaults = {k: request[k] for k in ("subject", "action", "resource", "context") if k in request}
    return [{**defaults, **item} for item in request.get("evaluations") or [request]]


# ---------------------------------------------------------------- the specification's examples

EVALUATION = {  # §6.1.1
    "subject": ALICE,
    "resource": {"type": "account", "id": "123"},
    "action": {"name": "can_read", "properties": {"method": "GET"}},
    "context": {"time": "1985-10-26T01:22-07:00"},
}
SUBJECTS = [  # §5.1.2, asked about a book (§5.2.2) and a loan (§5.3.2)
    ALICE,
    {"type": "user", "id": "alice@example.com", "properties": {"department": "Sales"}},
    {"type": "user", "id": "alice@example.com", "properties": {"ip_address": "172.217.22.14", "device_id": "8:65:ee:17:7e:0b"}},
]


def documents(*ids: str) -> list[dict[str, Any]]:
    return [{"resource": {"type": "document", "id": i}} for i in ids]


BATCH_NO_DEFAULTS = {  # §7.1
    "evaluations": [
        {"subject": ALICE, "action": {"name": "can_read"}, "resource": {"type": "document", "id": name},
         "context": {"time": "2024-05-31T15:22-07:00"}}
        for name in ("boxcarring.md", "subject-search.md", "resource-search.md")
    ],
}
BATCH_DEFAULTS = {  # §7.1.1, first example
    "subject": ALICE, "context": {"time": "2024-05-31T15:22-07:00"},
    "evaluations": [{"action": {"name": "can_read"}, **d} for d in documents("boxcarring.md", "subject-search.md", "resource-search.md")],
}
BATCH_OVERRIDE = {  # §7.1.1, second example: the third overrides the action
    "subject": ALICE, "context": {"time": "2024-05-31T15:22-07:00"}, "action": {"name": "can_read"},
    "evaluations": [*documents("boxcarring.md", "subject-search.md"),
                    {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "resource-search.md"}}],
}


def semantic(name: str) -> dict[str, Any]:  # §7.1.2.1
    return {"subject": ALICE, "action": {"name": "read"}, "options": {"evaluations_semantic": name},
            "evaluations": documents("1", "2", "3")}


async def test_the_evaluation_example_is_answered_as_explain_answers_it(pdp: tuple[Gateway, str]) -> None:
    gateway, url = pdp
    status, headers, answer = await post(f"{url}/access/v1/evaluation", EVALUATION,
                                         headers={"X-Request-ID": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"})
    assert status == 200 and headers["X-Request-ID"] == "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"  # §10.1.3
    assert answer == explain(gateway.config_path, EVALUATION)
    assert answer["decision"] is True and answer["context"]["route"] == "bank"


@pytest.mark.parametrize("subject", SUBJECTS, ids=["minimal", "department", "ip-and-device"])
@pytest.mark.parametrize(("resource", "action"), [
    ({"type": "book", "id": "123"}, {"name": "can_read"}),
    ({"type": "book", "id": "123", "properties": {"library_record": {"title": "AuthZEN in Action", "isbn": "978-0593383322"}}},
     {"name": "extend-loan", "properties": {"period": "2W"}}),
    ({"type": "account", "id": "123"}, {"name": "can_edit"}),
])
async def test_subject_resource_and_action_examples(
    pdp: tuple[Gateway, str], subject: dict[str, Any], resource: dict[str, Any], action: dict[str, Any]
) -> None:
    gateway, url = pdp
    request = {"subject": subject, "resource": resource, "action": action}
    status, _, answer = await post(f"{url}/access/v1/evaluation", request)
    assert status == 200
    assert answer == explain(gateway.config_path, request)


async def test_the_ip_of_the_subject_is_the_request_address(pdp: tuple[Gateway, str]) -> None:
    gateway, url = pdp
    resource = {"type": "url", "id": "https://geo.example.com/x"}
    near, far = SUBJECTS[2], SUBJECTS[0]
    decisions = [(await post(f"{url}/access/v1/evaluation", {"subject": s, "resource": resource, "action": {"name": "can_read"}}))[2]["decision"] for s in (near, far)]
    assert decisions == [True, False]  # 172.217.22.14 is in the route's network, 127.0.0.1 not


@pytest.mark.parametrize("request_body", [BATCH_NO_DEFAULTS, BATCH_DEFAULTS, BATCH_OVERRIDE, semantic("execute_all")],
                         ids=["no-defaults", "defaults", "override", "execute-all"])
async def test_batches_are_answered_as_explain_answers_each(pdp: tuple[Gateway, str], request_body: dict[str, Any]) -> None:
    gateway, url = pdp
    status, _, answer = await post(f"{url}/access/v1/evaluations", copy.deepcopy(request_body))
    assert status == 200
    assert answer == {"evaluations": [explain(gateway.config_path, e) for e in expanded(request_body)]}


async def test_the_three_semantics_of_the_specification(pdp: tuple[Gateway, str]) -> None:
    _, url = pdp
    answers = {}
    for name in ("execute_all", "deny_on_first_deny", "permit_on_first_permit"):
        status, _, answer = await post(f"{url}/access/v1/evaluations", semantic(name))
        assert status == 200
        answers[name] = [e["decision"] for e in answer["evaluations"]]
    # The specification's answers: document 2 is denied (this config's deny rule).
    assert answers == {
        "execute_all": [True, False, True],
        "deny_on_first_deny": [True, False],
        "permit_on_first_permit": [True],
    }


async def test_without_evaluations_the_batch_endpoint_answers_one(pdp: tuple[Gateway, str]) -> None:
    gateway, url = pdp
    status, _, answer = await post(f"{url}/access/v1/evaluations", EVALUATION)
    assert status == 200 and answer == explain(gateway.config_path, EVALUATION)  # §7.1


async def test_a_bad_evaluation_in_a_batch_fails_closed_alone(pdp: tuple[Gateway, str]) -> None:
    _, url = pdp
    body = {"subject": ALICE, "action": {"name": "read"},
            "evaluations": [*documents("1"), {"resource": {"type": "spaceship", "id": "x"}}, *documents("3")]}
    status, _, answer = await post(f"{url}/access/v1/evaluations", body)
    assert status == 200
    first, bad, third = answer["evaluations"]
    assert first["decision"] is True and third["decision"] is True
    assert bad["decision"] is False and bad["context"]["error"]["status"] == 400  # §7.2.1
    assert "spaceship" in bad["context"]["error"]["message"]


@pytest.mark.parametrize(("body", "message"), [
    ({"resource": {"type": "account", "id": "1"}, "action": {"name": "can_read"}}, "subject is required"),
    ({"subject": {"id": "x"}, "resource": {"type": "account", "id": "1"}, "action": {"name": "can_read"}}, "subject.type"),
    ({"subject": ALICE, "resource": {"type": "account", "id": "1"}, "action": {"name": "fly"}}, "no HTTP method"),
    ({"subject": ALICE, "resource": {"type": "spaceship", "id": "1"}, "action": {"name": "can_read"}}, "not mapped to a URL"),
    ({**EVALUATION, "context": {"ip": "not-an-ip"}}, "context.ip"),
    ([EVALUATION], "a JSON object"),
    (b"{not json", "not JSON"),
])
async def test_bad_requests_are_400_with_a_json_error(pdp: tuple[Gateway, str], body: Any, message: str) -> None:
    _, url = pdp
    status, headers, answer = await post(f"{url}/access/v1/evaluation", body)
    assert status == 400 and message in answer["error"]
    assert answer["request_id"] == headers["X-Request-ID"]


async def test_the_endpoint_needs_a_token(pdp: tuple[Gateway, str]) -> None:
    _, url = pdp
    for token in (None, "not-the-token", TOKEN[:-1]):
        status, headers, answer = await post(f"{url}/access/v1/evaluation", EVALUATION, token=token)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer") and answer["request_id"]
    status, _, answer = await post(f"{url}/access/v1/evaluation", EVALUATION, headers={"Content-Type": "text/plain"})
    assert status == 400 and "application/json" in answer["error"]


async def test_metadata(pdp: tuple[Gateway, str]) -> None:
    _, url = pdp
    async with aiohttp.ClientSession() as http, http.get(f"{url}/.well-known/authzen-configuration") as r:
        assert r.status == 200 and r.content_type == "application/json"
        metadata = await r.json()
    assert metadata == {
        "policy_decision_point": url,
        "access_evaluation_endpoint": f"{url}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{url}/access/v1/evaluations",
    }


async def test_off_unless_configured(echo_upstream: Any, gateway_factory: Callable[..., Gateway]) -> None:
    port = free_port()
    plain = config(str(echo_upstream.make_url("/")).rstrip("/"), port)
    del plain["authzen"]
    gateway = gateway_factory(plain)
    wait_for_port("127.0.0.1", port, timeout=15.0, process=gateway.process)
    status, _, answer = await post(f"http://127.0.0.1:{port}/access/v1/evaluation", EVALUATION)
    assert status == 404 and "authzen" in answer["error"]
