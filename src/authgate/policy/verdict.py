"""Verdicts: what one compiled entry says about one request, in three-valued logic.

Contract: every evaluator's `check(inp)` returns a `Verdict` tuple
`(state, reasons, rule)`:

    YES              the entry holds
    NO               it does not
    UNKNOWN_FACT     a fact it needs is missing (no geo, device, risk, bad client IP)
    UNKNOWN_USER     it needs an identity and there is none (logging in may decide it)

`and` / `or` / `not` follow Kleene's logic (`not` leaves an unknown unknown), so a
missing fact can neither satisfy an allow rule nor, through `not`, slip past one;
a deny rule trips on UNKNOWN_FACT (fail closed) and asks for a login on
UNKNOWN_USER. `rule` is the path of the entry that decided; `reasons` the codes of
the criteria that decided, already oriented: a code ends in `-ok` when the
criterion's outcome pushed the request towards being allowed, in its failure code
when towards being refused (a matching `country: {not_in: ...}` in a deny rule
yields `country-unauthorized`). Leaves build their three or four verdicts once, at
compile time, so checking allocates nothing.
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from authgate.policy import reasons

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput

YES: Final = 0
NO: Final = 1
UNKNOWN_FACT: Final = 2
UNKNOWN_USER: Final = 3

Verdict = tuple[int, tuple[str, ...], str]


class Evaluator(Protocol):
    """A compiled entry: a criterion or a combinator."""

    @property
    def path(self) -> str: ...

    def check(self, inp: PolicyInput) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Outcomes:
    """The prebuilt verdicts of one leaf at its place in the policy."""

    yes: Verdict
    no: Verdict
    unknown: Verdict  # a fact is missing (the criterion's `*-unknown` code)
    anonymous: Verdict  # no identity


def outcomes(
    path: str, ok: str, failed: str, *, positive: bool, unknown: str | None = None
) -> Outcomes:
    """Verdicts for a leaf at `path`; `positive` is False under an odd number of
    `not`s in an allow rule, or an even number in a deny rule."""
    toward_allow, toward_refuse = (ok, failed) if positive else (failed, ok)
    return Outcomes(
        yes=(YES, (toward_allow,), path),
        no=(NO, (toward_refuse,), path),
        unknown=(UNKNOWN_FACT, (unknown or failed,), path),
        anonymous=(UNKNOWN_USER, (reasons.USER_UNAUTHENTICATED,), path),
    )


def negate(verdict: Verdict, path: str) -> Verdict:
    """`not`: YES and NO swap, unknowns stay unknown (Kleene)."""
    state, found, _ = verdict
    if state == YES:
        return (NO, found, path)
    if state == NO:
        return (YES, found, path)
    return verdict
