"""`DecisionRecord.to_json` writes exactly what the json module writes for its fields.

The record is assembled field by field for speed (it runs once per request); the
reference here is the plain way — one dict, `encode_line` — and hypothesis looks for a
record where the two differ: any text (controls, U+2028, lone surrogates, non-ASCII),
missing values, large integers, any finite duration.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.decision import Outcome
from authgate.decisionlog.record import DecisionRecord, GrantNote, encode_line, rfc3339_millis

text = st.text()
maybe_text = st.none() | st.text()
strings = st.lists(st.text(), max_size=4).map(tuple)


def reference(record: DecisionRecord) -> str:
    return encode_line(
        {
            "time": rfc3339_millis(record.time),
            "request_id": record.request_id,
            "trace_id": record.trace_id,
            "route": record.route,
            "method": record.method,
            "host": record.host,
            "path": record.path,
            "client_ip": record.client_ip,
            "user": record.user,
            "provider": record.provider,
            "country": record.country,
            "device": record.device,
            "decision": record.decision.value,
            "reason": record.reason,
            "rule": record.rule,
            "risk": record.risk,
            "signals": list(record.signals),
            "status": record.status,
            "upstream_status": record.upstream_status,
            "durations": {f"{stage}_ms": round(s * 1000, 3) for stage, s in record.durations},
            "headers_dropped": list(record.headers_dropped),
            "return_url_rejected": record.return_url_rejected,
            "stripped": list(record.stripped),
            "grant": None if record.grant is None else record.grant.fields(),
        }
    )


records = st.builds(
    DecisionRecord,
    time=st.floats(min_value=0, max_value=4e9),
    request_id=text,
    route=maybe_text,
    method=text,
    host=text,
    path=text,
    client_ip=text,
    decision=st.sampled_from(list(Outcome)),
    reason=text,
    rule=maybe_text,
    status=st.integers(min_value=0, max_value=999),
    upstream_status=st.none() | st.integers(min_value=0, max_value=999),
    durations=st.lists(
        st.tuples(st.sampled_from(["total", "upstream", "x"]), st.floats(0, 1e6)), max_size=3,
        unique_by=lambda pair: pair[0],
    ).map(tuple),
    user=maybe_text,
    provider=maybe_text,
    country=maybe_text,
    device=maybe_text,
    risk=st.none() | st.integers(min_value=-(2**70), max_value=2**70),
    signals=strings,
    headers_dropped=strings,
    return_url_rejected=st.booleans(),
    stripped=strings,
    grant=st.none() | st.builds(
        GrantNote, id=text, entitlement=text, event=text, actor=maybe_text, user=maybe_text,
        provider=maybe_text, subject=maybe_text, reason=maybe_text, ticket=maybe_text,
        route=maybe_text, expires_at=st.none() | st.floats(min_value=0, max_value=4e9),
        break_glass=st.booleans(),
    ),
    trace_id=maybe_text,
    identity=st.none(),  # memory only: never in the line (a named tuple: hypothesis asks)
)


@settings(max_examples=400, deadline=None)
@given(records)
def test_to_json_is_the_json_module_s_line(record: DecisionRecord) -> None:
    line = record.to_json()
    assert line == reference(record)
    assert len(line.splitlines()) == 1  # nothing in it breaks the line
    json.loads(line)


def test_identity_is_neither_in_the_line_nor_in_equality() -> None:
    from authgate.identity import Identity

    base = DecisionRecord(0.0, "r", "app", "GET", "h", "/", "192.0.2.1", Outcome.ALLOW, "ok", None, 200, 200)
    who = base._replace(identity=Identity(subject="s", provider="p", credential="session"))
    assert who == base and hash(who) == hash(base) and who.to_json() == base.to_json()
    assert base._replace(status=403) != base
    assert "identity" not in repr(who)
