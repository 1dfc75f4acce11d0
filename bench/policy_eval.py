"""Cost of one policy decision, in process, against an `authenticated`-only baseline.

Usage:  .venv/bin/python bench/policy_eval.py [--seconds 1.0] [--batch 2000]

Measures in one run, on compiled policies (compiled once, as at load):

  baseline        evaluate() of `allow: [{authenticated: true}]` — the trivial policy
  3-criterion     evaluate() of `allow: [{and: [{groups}, {mfa}, {ip}]}]`, allowed
  3-crit refused  the same policy, refused (bob: every allow rule evaluated, reasons built)
  5-criterion     3-criterion plus `deny: [{country: {in}}, {not: {time}}]` (zoneinfo)
  authorize       authorize() for a route with the 3-criterion policy: public paths,
                  provider check, policy, step-up rules, consent -> the `Decision`
                  (what the gateway's decide() pays per request)

Each row runs --seconds in batches of --batch decisions; a batch's µs/decision is
its wall time over its size, and the row reports the median and the 99th percentile
over batches, and the median's ratio to the baseline's measured in the same run
(absolute numbers drift on shared machines; ratios much less). The target
(DESIGN.md): one decision ≤ 20 µs median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from authgate.config.schema import RouteConfig
from authgate.config.schema_policy import PolicyConfig
from authgate.identity import Identity
from authgate.policy.authorize import authorize
from authgate.policy.compile import compile_policy, compile_route_policy
from authgate.policy.evaluate import PolicyInput, evaluate
from authgate.routing import compile_routes

NOW = 1_772_445_600.0
THREE = {"allow": [{"and": [{"groups": ["hr-staff"]}, {"mfa": True}, {"ip": ["10.0.0.0/8"]}]}]}
FIVE = {
    **THREE,
    "deny": [
        {"country": {"in": ["KP", "IR"]}},
        {
            "not": {
                "time": {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "hours": "07:00-20:00",
                    "tz": "Europe/Paris",
                }
            }
        },
    ],
}
ALICE = Identity(
    "alice-sub",
    "corp",
    "session",
    email="alice@corp.example",
    email_verified=True,
    username="alice",
    groups=("staff", "hr-staff"),
    roles=("admin",),
    amr=("pwd", "otp"),
    auth_time=NOW - 600,
)
BOB = Identity("bob-sub", "corp", "session", groups=("contractors",), amr=("pwd",))


def _compiled(policy: dict[str, Any]) -> Any:
    return compile_policy("hr", PolicyConfig.model_validate(policy), audience=None)


def _inp(identity: Identity) -> PolicyInput:
    return PolicyInput("GET", "/reports/q3", "10.1.2.3", NOW, identity, "FR")


def _authorize_call() -> Callable[[], object]:
    config = RouteConfig.model_validate(
        {
            "id": "hr",
            "match": {"host": "hr.example.com"},
            "upstream": "http://127.0.0.1:9000",
            "public": ["/static/**", "/healthz"],
            "providers": ["corp"],
            "policy": THREE,
            "step_up": [{"paths": ["/payroll/**"], "max_age": "5m"}],
        }
    )
    route = compile_routes([config]).by_id("hr")
    compiled = compile_route_policy(config)
    inp = _inp(ALICE)
    return lambda: authorize(route, compiled, inp)


def _rows() -> dict[str, Callable[[], object]]:
    baseline = _compiled({"allow": [{"authenticated": True}]})
    three, five = _compiled(THREE), _compiled(FIVE)
    alice, bob = _inp(ALICE), _inp(BOB)
    assert evaluate(three, alice).allowed and not evaluate(three, bob).allowed
    assert evaluate(five, alice).allowed
    return {
        "baseline": lambda: evaluate(baseline, alice),
        "3-criterion": lambda: evaluate(three, alice),
        "3-crit refused": lambda: evaluate(three, bob),
        "5-criterion": lambda: evaluate(five, alice),
        "authorize": _authorize_call(),
    }


def _measure(call: Callable[[], object], seconds: float, batch: int) -> list[float]:
    for _ in range(batch):  # warm up caches (ip parsing, zoneinfo)
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter_ns()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter_ns() - started) / batch / 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per row")
    parser.add_argument("--batch", type=int, default=2000, help="decisions per timed batch")
    args = parser.parse_args(argv)
    print(f"{'row':<16}{'median µs':>11}{'p99 µs':>9}{'× baseline':>12}")
    base = None
    for name, call in _rows().items():
        samples = sorted(_measure(call, args.seconds, args.batch))
        median = statistics.median(samples)
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        base = base or median
        print(f"{name:<16}{median:>11.2f}{p99:>9.2f}{median / base:>11.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
