"""Per-stage CPU table of a gateway worker from a py-spy profile (a bench helper).

Usage: record a running worker under load (wrk) with py-spy, measure its CPU per
request over a wrk run from /proc/PID/stat (user and system apart), then:

    py-spy record -p PID -d 15 -r 1000 -f raw -o raw.txt --nonblocking --threads
    python bench/stage_table.py raw.txt USER_US_PER_REQ SYS_US_PER_REQ

Each sample goes to the stage of its leaf-most frame that `RULES` names (first rule
that matches a frame wins); the decision-log writer thread is a stage of its own, and
main-thread samples that no rule names are the event loop's (epoll, callbacks, task
steps). py-spy samples wall time, so shares become CPU through the measured times:
the send() stages share the system time, every other stage the user time.
"""

from __future__ import annotations

import collections
import sys

SENDS = ("send() to the upstream", "send() to the client")
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("send() to the upstream", ("UpstreamConnection.write",)),
    ("send() to the client", ("DataPlaneProtocol.write", "DataPlaneProtocol.uncork")),
    ("rate limit", ("apply_limits",)),
    ("adaptive: GeoIP lookup, device", ("gather_context", "record_allowed")),
    ("routing + policy + decide", ("RouteTable.match", "decide (", "authorize", "evaluate (")),
    ("upstream request headers (strip, X-Forwarded-*, Forwarded)",
     ("upstream_headers", "_forward (", "upstream_target_path")),
    ("duplicate-credential check", ("duplicated_credential",)),
    ("facts: Wire, request id, host/path normalization, client IP",
     ("gather_facts", "Wire.__init__", "resolve_target")),
    ("decision record + metrics", ("Exchange.record", "from_decision", "Metrics.observe", "submit (")),
    ("relay: upstream head, pool, response parse and head, framing, timer",
     ("Relay.", "request_head", "response_head", "_outbound", "UpstreamPool",
      "UpstreamConnection.data_received", "_timeouts")),
    ("client read: llhttp parse, callbacks, Incoming, queue, timers",
     ("DataPlaneProtocol.", "Incoming.__init__", "serve_request", "_serve (")),
)
WRITER = "decision-log writer thread (serialize, write the file)"
LOOP = "event loop: epoll, callbacks, task steps"


def stage_of(frames: list[str]) -> str:
    if "MainThread" not in frames[0]:
        return WRITER
    for frame in reversed(frames):
        for name, patterns in RULES:
            if any(pattern in frame for pattern in patterns):
                return name
    return LOOP


def main(raw: str, user_us: float, sys_us: float) -> None:
    counts: collections.Counter[str] = collections.Counter()
    for line in open(raw, encoding="utf-8"):
        stack, _, count = line.rstrip().rpartition(" ")
        if stack:
            counts[stage_of(stack.split(";"))] += int(count)
    total = sum(counts.values())
    sends = sum(counts[name] for name in SENDS) or 1
    others = total - sum(counts[name] for name in SENDS) or 1
    print("| stage | samples | CPU µs/req |\n|---|---:|---:|")
    for name, count in counts.most_common():
        cpu = sys_us * count / sends if name in SENDS else user_us * count / others
        print(f"| {name} | {100 * count / total:.1f}% | {cpu:.1f} |")
    print(f"| total (user {user_us:.0f} + system {sys_us:.0f}) | 100% | {user_us + sys_us:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
