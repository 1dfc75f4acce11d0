"""Properties (hypothesis):

(a) the decision for a path equals the decision for every equivalent spelling of it —
    percent-encoded unreserved characters, dot segments, repeated slashes — through
    the gateway's own normalization (`authgate.routing.normalize_path`) and route
    lookup, via `explain`;
(b) a request a deny rule covers is never allowed, whatever the allow rules.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.config.snapshot import build_snapshot
from authgate.policy.explain import Explanation, explain
from authgate.routing import normalize_path
from tests.policy.personas import (
    NOW,
    PERSONAS,
    policy,
    request,
    run,
)

SNAPSHOT = build_snapshot(Path(__file__).parent / "files" / "gateway.yaml", {})
UNRESERVED = string.ascii_letters + string.digits + "-._~"
FIRST = ["static", "docs", "internal", "payroll", "x", "Docs", "v1"]

segment = st.text(UNRESERVED, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
personas = st.sampled_from(sorted(PERSONAS))


@st.composite
def canonical_paths(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(FIRST)), *draw(st.lists(segment, max_size=4))]
    return "/" + "/".join(parts) + ("/" if draw(st.booleans()) else "")


@st.composite
def spellings(draw: st.DrawFn, canonical: str) -> str:
    """An equivalent spelling: escapes, `.`/`x/..` segments, `/` runs."""
    out: list[str] = []
    for char in canonical:
        if char == "/":
            out.append("/" * draw(st.integers(1, 3)))
            out.append(
                draw(st.sampled_from(["", "", "./", "../" if out == ["/"] else "", "zz/../"]))
            )
        elif draw(st.integers(0, 3)) == 0:
            hex_code = f"{ord(char):02X}"
            out.append("%" + (hex_code.lower() if draw(st.booleans()) else hex_code))
        else:
            out.append(char)
    return "".join(out)


def explained(url_path: str, host: str, persona: str, method: str) -> Explanation:
    return explain(
        SNAPSHOT.routes,
        SNAPSHOT.config,
        url=f"https://{host}{url_path}",
        method=method,
        identity=PERSONAS[persona],
        ip="10.1.2.3",
        country="FR",
        now=NOW,
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    canonical=canonical_paths(),
    host=st.sampled_from(
        ["hr.example.com", "shop.example.com", "api.example.com", "HR.Example.com."]
    ),
    persona=personas,
    method=st.sampled_from(["GET", "POST", "HEAD"]),
)
def test_equivalent_spellings_decide_alike(
    data: st.DataObject, canonical: str, host: str, persona: str, method: str
) -> None:
    spelled = data.draw(spellings(canonical))
    assert normalize_path(spelled) == canonical  # the generator's own promise
    assert explained(spelled, host, persona, method) == explained(canonical, host, persona, method)


# --- (b) deny covers -> never allowed ----------------------------------------------

LEAVES: list[dict[str, Any]] = [
    {"authenticated": True},
    {"groups": ["hr-staff"]},
    {"groups": ["contractors"]},
    {"roles": ["admin"]},
    {"mfa": True},
    {"mfa": False},
    {"email_domain": ["corp.com", "*.shop.example"]},
    {"ip": ["10.0.0.0/8"]},
    {"ip": ["192.168.0.0/16"]},
    {"country": {"in": ["FR"]}},
    {"country": {"not_in": ["FR"]}},
    {"method": ["GET"]},
    {"path": ["/**"]},
    {"path": ["/admin/**"]},
    {"path": ["/docs/*"]},
    {"risk": {"below": 50}},
    {"device": {"managed": True}},
    {"time": {"days": ["mon"]}},
    {"auth_age": "1h"},
    {"consent": ["terms-2026"]},
    {"claim": {"path": "org.unit", "equals": "HR"}},
]

entries = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)
facts = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "DELETE"]),
        "ip": st.sampled_from(["10.1.2.3", "192.168.1.1", "unknown"]),
        "country": st.sampled_from(["FR", "US", None]),
        "risk": st.sampled_from([None, 10.0, 90.0]),
        "device": st.sampled_from([None, {"managed": True}, {"managed": False}]),
    }
)


@settings(max_examples=300)
@given(
    allow=st.lists(entries, max_size=4),
    tail=st.lists(segment, max_size=3),
    data=st.data(),
    persona=personas,
    given_facts=facts,
)
def test_a_path_a_deny_rule_covers_is_never_allowed(
    allow: list[dict[str, Any]],
    tail: list[str],
    data: st.DataObject,
    persona: str,
    given_facts: dict[str, Any],
) -> None:
    spelled = data.draw(spellings("/admin/" + "/".join(tail)))
    config = policy(allow=[*allow, {"path": ["/**"]}], deny=[{"path": ["/admin/**"]}])
    inp = request(PERSONAS[persona], path=normalize_path(spelled), **given_facts)
    assert not run(config, inp).allowed


@settings(max_examples=400)
@given(allow=st.lists(entries, max_size=4), deny=entries, persona=personas, given_facts=facts)
def test_whatever_a_deny_entry_covers_is_never_allowed(
    allow: list[dict[str, Any]], deny: dict[str, Any], persona: str, given_facts: dict[str, Any]
) -> None:
    inp = request(PERSONAS[persona], path="/admin/x", **given_facts)
    covered = run(policy(allow=[deny]), inp).allowed  # the deny entry holds here
    result = run(policy(allow=allow, deny=[deny]), inp)
    if covered:
        assert not result.allowed
    if result.allowed:  # and an allow never comes from an unknown fact or missing identity
        assert not result.identity_needed and result.rule is not None
