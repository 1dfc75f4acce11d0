"""`and`, `or`, `not`: entries of entries, in three-valued (Kleene) logic.

Contract (states from `authgate.policy.verdict`, ordered YES < NO < UNKNOWN_FACT <
UNKNOWN_USER):
- `and` is NO as soon as one child is NO (later children are not evaluated);
  otherwise the highest state of its children: YES only when all hold, and an
  unknown identity outranks an unknown fact (a login may settle the first).
  Reasons: every child's; rule: the `and` itself.
- `or` is YES as soon as one child is YES, with that child's reasons and rule
  (which alternative let the request in); otherwise the highest state.
- `not` swaps YES and NO and leaves unknowns unknown, so a missing fact cannot turn
  into a match by negation.
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import NO, YES, Evaluator, Verdict, negate

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class And:
    path: str
    children: tuple[Evaluator, ...]

    def check(self, inp: PolicyInput) -> Verdict:
        state = YES
        found: tuple[str, ...] = ()
        for child in self.children:
            verdict = child.check(inp)
            if verdict[0] == NO:
                return verdict
            state = max(state, verdict[0])
            found += verdict[1]
        return (state, found, self.path)


@dataclass(frozen=True, slots=True)
class Or:
    path: str
    children: tuple[Evaluator, ...]

    def check(self, inp: PolicyInput) -> Verdict:
        state = NO
        found: tuple[str, ...] = ()
        for child in self.children:
            verdict = child.check(inp)
            if verdict[0] == YES:
                return verdict
            state = max(state, verdict[0])
            found += verdict[1]
        return (state, found, self.path)


@dataclass(frozen=True, slots=True)
class Not:
    path: str
    child: Evaluator

    def check(self, inp: PolicyInput) -> Verdict:
        return negate(self.child.check(inp), self.path)
