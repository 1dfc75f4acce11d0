"""`claim`: any claim of the identity by dotted path, with one operator.

Contract (`claim_at` resolves the path, a literal dotted key first):
- `equals: X`     the claim is X.
- `in: [X, Y]`    the claim is one of them (the claim must be a single value).
- `contains: X`   the claim is a list holding X, or a string whose space-separated
                  words include X — OAuth's `scope` claim is one string of
                  space-separated scopes (RFC 9068 §2.2.3.1, RFC 8693 §4.2). Never a
                  substring test: `orders.read` must not match `orders.readonly`.
Values compare with their JSON type: `true` is not `1`, `"1"` is not `1`. A claim
that is absent, null or of another type does not hold. Claims dropped from
`Identity.claims` (`exp`, `nonce`, ... see `authgate.oidc.claims`) are absent here.
Pure module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authgate.oidc.claims import claim_at
from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput

Scalar = str | int | float | bool


def same(value: Any, expected: Scalar) -> bool:
    """Equality that keeps JSON types apart (Python has `True == 1`)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    return isinstance(value, int | float) and value == expected


def equals(value: Any, expected: tuple[Scalar, ...]) -> bool:
    return bool(expected) and same(value, expected[0])


def is_in(value: Any, options: tuple[Scalar, ...]) -> bool:
    return any(same(value, option) for option in options)


def contains(value: Any, expected: tuple[Scalar, ...]) -> bool:
    wanted = expected[0]
    if isinstance(value, list | tuple):
        return any(same(item, wanted) for item in value)
    if isinstance(value, str) and isinstance(wanted, str):
        return wanted in value.split()
    return False


Operator = Callable[[Any, tuple[Scalar, ...]], bool]


@dataclass(frozen=True, slots=True)
class Claim:
    path: str
    out: Outcomes
    claim: str  # the dotted path into the claims
    operator: Operator
    operands: tuple[Scalar, ...]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        value = claim_at(identity.claims, self.claim)
        return self.out.yes if self.operator(value, self.operands) else self.out.no
