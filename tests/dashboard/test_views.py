"""The dashboard's views: filters and the explain view of one record."""

from __future__ import annotations

import pytest

from authgate.dashboard.views import Filters, rows
from authgate.decision import Outcome
from tests.dashboard.records import T0, record

RECORDS = [
    record(Outcome.ALLOW, at=T0 + 3, user="alice", route="app"),
    record(Outcome.DENY, at=T0 + 2, user="bob", reason="policy-no-match,groups-unauthorized"),
    record(Outcome.RATE_LIMITED, at=T0 + 1, user=None, route="api", reason="rate-limited"),
    record(Outcome.DENY, at=T0, user=None, route=None, reason="route-not-found"),
]


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ({}, [0, 1, 2, 3]),
        ({"decision": "deny"}, [1, 3]),
        ({"user": "bob"}, [1]),
        ({"route": "api"}, [2]),
        ({"route": "-"}, [3]),  # no route
        ({"reason": "groups-unauthorized"}, [1]),  # one code among the record's
        ({"reason": "groups"}, []),  # a code, not a substring
        ({"since": str(T0 + 1), "until": str(T0 + 2)}, [1, 2]),
        ({"decision": "deny", "since": str(T0 + 1)}, [1]),
        ({"limit": "2"}, [0, 1]),
        ({"user": "", "route": ""}, [0, 1, 2, 3]),  # empty filters nothing
    ],
)
def test_filters(query: dict[str, str], wanted: list[int]) -> None:
    found = rows(RECORDS, Filters.parse(query))
    assert [row["request_id"] for row in found] == [RECORDS[i].request_id for i in wanted]


@pytest.mark.parametrize(
    ("query", "name"),
    [({"decision": "maybe"}, "decision"), ({"since": "x"}, "since"), ({"limit": "0"}, "limit"),
     ({"limit": "501"}, "limit"), ({"until": "inf"}, "until")],
)
def test_bad_filters_name_the_parameter(query: dict[str, str], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        Filters.parse(query)
