"""Microbenchmark: build and serialize one decision record (issue 12: ≤ 5 µs).

Usage: `python bench/record_bench.py [--number N]`. Times, with `timeit` (best of 7
repeats), what the request path pays per request for its record: `Exchange.record()`'s
`DecisionRecord.from_decision(...)` with the fields an authenticated, proxied request
fills in, and `to_json()` (run in the decision log's writer thread, yet CPU of the same
process). Quiet-box caveat: on the shared 2-core box other processes' load inflates
every figure (3-4× at a load average of 8); compare figures from one run only, and
quote the quiet-box figure for the bound.
"""

from __future__ import annotations

import argparse
import os
import time
import timeit

from authgate.decision import Decision, Outcome, Reason
from authgate.decisionlog.record import DecisionRecord

DECISION = Decision(
    Outcome.ALLOW, (Reason.USER_AUTHENTICATED,), route_id="app", rule="routes[app].policy.allow[0]"
)


def build() -> DecisionRecord:
    return DecisionRecord.from_decision(
        DECISION, time=time.time(), request_id="kq0Mf3ZoT8GvJx2bYc1a", trace_id=None,
        method="GET", host="app.example.com", path="/api/items?page=2", client_ip="203.0.113.7",
        status=200, upstream_status=200, durations=(("total", 0.000321), ("upstream", 0.000123)),
        user="alice@example.com", provider="corp", country="DE", device=None, risk=10,
        signals=("new-country",), headers_dropped=(), return_url_rejected=False, stripped=(),
        grant=None, identity=None,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000)
    number = parser.parse_args().number
    record = build()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, run in (
        ("build (from_decision)", build),
        ("serialize (to_json)", record.to_json),
        ("build + serialize", lambda: build().to_json()),
    ):
        best = min(timeit.repeat(run, number=number, repeat=7)) / number
        print(f"{name:24s} {best * 1e6:6.2f} µs")


if __name__ == "__main__":
    main()
