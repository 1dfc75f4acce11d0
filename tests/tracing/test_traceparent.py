"""`parse_traceparent`: what W3C Trace Context §3.2 and §4.3 accept, as a table."""

from __future__ import annotations

import pytest

from authgate.tracing.traceparent import format_traceparent, parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"
PARSED = (int(TRACE, 16), int(SPAN, 16), 1)

ACCEPTED = [
    ("the spec's example", [VALID], PARSED),
    ("not sampled", [f"00-{TRACE}-{SPAN}-00"], (PARSED[0], PARSED[1], 0)),
    ("optional whitespace around the value", [f" \t{VALID} "], PARSED),
    ("a future version, same length", [f"cc-{TRACE}-{SPAN}-01"], PARSED),
    ("a future version with more fields", [f"cc-{TRACE}-{SPAN}-01-what-ever"], PARSED),
    ("unknown flags are kept", [f"00-{TRACE}-{SPAN}-03"], (PARSED[0], PARSED[1], 3)),
]

REFUSED = [
    ("no header", []),
    ("two field lines", [VALID, VALID]),
    ("two values on one line", [f"{VALID},{VALID}"]),
    ("empty", [""]),
    ("version ff", [f"ff-{TRACE}-{SPAN}-01"]),
    ("version 00 with more after it", [f"00-{TRACE}-{SPAN}-01-extra"]),
    ("a future version longer without a dash", [f"cc-{TRACE}-{SPAN}-01x"]),
    ("uppercase hex", [VALID.upper()]),
    ("uppercase version hex", [f"0A-{TRACE}-{SPAN}-01"]),
    ("trace id all zeros", [f"00-{'0' * 32}-{SPAN}-01"]),
    ("parent id all zeros", [f"00-{TRACE}-{'0' * 16}-01"]),
    ("trace id too short", [f"00-{TRACE[:-1]}-{SPAN}-01"]),
    ("not hex", [f"00-{TRACE[:-1]}g-{SPAN}-01"]),
    ("wrong separators", [f"00_{TRACE}_{SPAN}_01"]),
    ("flags not hex", [f"00-{TRACE}-{SPAN}-0x"]),
    ("a sign in an id", [f"00-+{TRACE[1:]}-{SPAN}-01"]),
    ("non-ASCII digits", [f"00-{TRACE[:-1]}\u0661-{SPAN}-01"]),
]


@pytest.mark.parametrize(("values", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(values: list[str], expected: tuple[int, int, int]) -> None:
    assert parse_traceparent(values) == expected


@pytest.mark.parametrize("values", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused(values: list[str]) -> None:
    assert parse_traceparent(values) is None


def test_written_as_version_00_and_read_back() -> None:
    written = format_traceparent(*PARSED)
    assert written == VALID
    assert parse_traceparent([written]) == PARSED
    assert format_traceparent(1, 2, 0x103) == f"00-{1:032x}-{2:016x}-03"
