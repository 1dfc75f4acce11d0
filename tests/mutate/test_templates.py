"""Route header templates: compile errors and rendering, as tables."""

from __future__ import annotations

import pytest

from authgate.identity import Identity
from authgate.mutate.templates import TemplateError, compile_templates
from tests.mutate.personas import (
    alice_admin,
    bob_contractor,
    mallory_injector,
    zoe_customer,
)

COMPILE_ERRORS = [
    # (header, template, words expected in the message)
    ("X-A", "{unknown}", "unknown placeholder {unknown}"),
    ("X-A", "{claims}", "unknown placeholder"),
    ("X-A", "{claims.}", "unknown placeholder"),
    ("X-A", "{claims..a}", "unknown placeholder"),
    ("X-A", "{claims.a b}", "unknown placeholder"),
    ("X-A", "{}", "unknown placeholder"),
    ("X-A", "{user:>10}", "unknown placeholder"),  # no format specs
    ("X-A", "{user!r}", "unknown placeholder"),  # no conversions
    ("X-A", "{User}", "unknown placeholder"),  # names are exact
    ("X-A", "{", "unmatched '{'"),
    ("X-A", "}", "unmatched '}'"),
    ("X-A", "{user", "unmatched '{'"),
    ("X-A", "user}", "unmatched '}'"),
    ("X-A", "{{user}", "unmatched '}'"),
    ("X-A", "{us{er}", "unmatched '{'"),
    ("X-A", "café {user}", "printable ASCII"),
    ("X-A", "a\r\nX-Evil: 1", "printable ASCII"),
    ("X-A", "tab\there", "printable ASCII"),
    ("X Bad", "{user}", "not a header name"),
    ("X_Under", "{user}", "not a header name"),
    ("", "{user}", "not a header name"),
    ("X-Ünï", "{user}", "not a header name"),
    ("Cookie", "{user}", "reserved"),
    ("host", "{user}", "reserved"),
    ("X-Authgate-Assertion", "{user}", "reserved"),
    ("x-forwarded-access-token", "{user}", "reserved"),
    ("Authorization", "Bearer {user}", "reserved"),
    ("X-Forwarded-For", "{user}", "reserved"),
    ("Content-Length", "{user}", "reserved"),
]


@pytest.mark.parametrize(("header", "template", "message"), COMPILE_ERRORS)
def test_compile_errors(header: str, template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_templates({"X-Good": "{user}", header: template})
    assert caught.value.header == header
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{header}: ")


RENDERING = [
    # (identity, template, value or None when the header is omitted)
    (alice_admin, "{user}", "alice"),
    (alice_admin, "{subject}", "alice-sub"),
    (alice_admin, "{email}", "alice@corp.example"),
    (alice_admin, "{name}", "Alice Admin"),
    (alice_admin, "{username}", "alice"),
    (alice_admin, "{provider}", "corp"),
    (alice_admin, "{user} via {provider}", "alice via corp"),
    (alice_admin, "{ user }", "alice"),  # whitespace inside braces is ignored
    (alice_admin, "{groups}", "admins,hr-staff"),
    (alice_admin, "{roles}", "admin"),
    (alice_admin, "{acr}", "urn:corp:mfa"),
    (alice_admin, "{amr}", "pwd,otp"),
    (alice_admin, "{claims.employee_id}", "4711"),
    (alice_admin, "{claims.ratio}", "0.5"),
    (alice_admin, "{claims.active}", "true"),
    (alice_admin, "{claims.org.unit}", "HR"),
    (alice_admin, "{claims.org.tags}", "a,b"),
    (alice_admin, "{claims.org}", '{"unit":"HR","tags":["a","b"]}'),
    (alice_admin, "{claims.manager}", None),  # null is missing
    (alice_admin, "{claims.missing}", None),
    (alice_admin, "{claims.org.missing}", None),
    (alice_admin, "{claims.employee_id.deeper}", None),  # not a mapping
    (alice_admin, "id={claims.missing}", None),  # no half-filled values
    (alice_admin, "{{literal}}", "{literal}"),
    (alice_admin, "id={{{user}}}", "id={alice}"),
    (alice_admin, "static", "static"),
    (alice_admin, "", None),
    (alice_admin, "  ", None),
    (bob_contractor, "{user}", "bob@contractor.example"),  # no username: the email
    (bob_contractor, "{name}", None),
    (bob_contractor, "{username}", None),
    (bob_contractor, "{roles}", None),  # empty list: empty value, omitted
    (bob_contractor, "{acr}", None),
    (zoe_customer, "{name}", "Zo%C3%AB %E5%B1%B1%E7%94%B0"),
    (zoe_customer, "{groups}", "vip,eu%2Cde"),  # a comma inside an item is encoded
    (zoe_customer, "{email}", "zo%C3%AB@shop.example"),
    (mallory_injector, "{email}", "m@evil.example%0D%0AX-Authgate-User: admin"),
    (mallory_injector, "{claims.note}", "x%0D%0A%0D%0AGET /admin HTTP/1.1"),
    (mallory_injector, "{groups}", "a%0Ab,c%0Dd"),
]


@pytest.mark.parametrize(("identity", "template", "expected"), RENDERING)
def test_rendering(identity: Identity, template: str, expected: str | None) -> None:
    compiled = compile_templates({"X-Out": template})
    rendered = compiled.render(identity)
    assert rendered == ([] if expected is None else [("X-Out", expected)])


def test_names_are_the_template_header_names() -> None:
    compiled = compile_templates({"X-Employee-Id": "{claims.employee_id}", "X-Team": "t"})
    assert compiled.names == frozenset({"X-Employee-Id", "X-Team"})
    assert compile_templates({}).names == frozenset()


def test_rendering_never_raises_on_odd_claim_values() -> None:
    odd = Identity(
        subject="s",
        provider="p",
        credential="bearer",
        claims={"obj": object(), "keys": {(1, 2): "tuple key"}, "nan": float("nan")},
    )
    compiled = compile_templates(
        {"X-A": "{claims.obj}", "X-B": "{claims.keys}", "X-C": "{claims.nan}"}
    )
    values = dict(compiled.render(odd))
    assert values["X-A"].startswith('"<object object at')  # str() fallback, as JSON
    assert values["X-B"] == "{}"  # a non-string key is skipped
    assert values["X-C"] == "NaN"
