"""The identity headers' diet: which groups they show, and a size budget for all of them.

A user in hundreds of groups must not make every upstream request fail: a 14 KB
`X-Authgate-Groups` is refused by nginx (8 KiB per header line by default), Node
(16 KiB per request head) and most load balancers. Contract (a mutator: it shapes what
the upstream is sent and never decides):

* `HeaderBudget.build(config, policy, templates)` compiles a route's `headers.groups`
  and `headers.max_bytes` once, at config load.
* `budget.shown(identity)` is the identity the headers are rendered from. Without
  `headers.groups` it is `identity` itself; else its groups are only those that `only`
  lists (with `only: policy`, that a `groups` criterion of the route's effective policy
  names, in allow or deny rules) or that the `match` regex finds (`re.search`), in the
  provider's order. The assertion is always signed from the full identity.
* `budget.fit(pairs)` returns the identity header pairs that fit in `max_bytes`, each
  counted as it travels (`Name: value` plus CRLF), and the names it dropped. Over the
  budget, the headers carrying groups go first (`X-Authgate-Groups` and every template
  using `{groups}`), then those carrying roles, until the rest fits. Nothing else is
  dropped — not the user, the assertion (which still carries every group) or the access
  token — so a block still over the budget then is sent as it is, and the record says
  what was dropped (`headers_dropped`).

Pure module.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from authgate.config.schema_auth import GroupsShown, IdentityHeaders
from authgate.config.schema_policy import PolicyConfig, PolicyEntry
from authgate.identity import Identity
from authgate.mutate.encoding import normalize_name
from authgate.mutate.templates import CompiledTemplates

GROUPS_HEADER = "X-Authgate-Groups"
ROLES_HEADER = "X-Authgate-Roles"
_LINE_OVERHEAD = len(": \r\n")

Pairs = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class GroupsFilter:
    names: frozenset[str]
    pattern: re.Pattern[str] | None

    def keep(self, groups: Sequence[str]) -> tuple[str, ...]:
        pattern = self.pattern
        return tuple(
            g for g in groups if g in self.names or (pattern is not None and pattern.search(g))
        )


@dataclass(frozen=True, slots=True)
class HeaderBudget:
    max_bytes: int
    groups: GroupsFilter | None = None
    # Normalized header names to drop, in order, when the block is over the budget.
    droppable: tuple[frozenset[str], ...] = ()

    @classmethod
    def build(
        cls, config: IdentityHeaders, policy: PolicyConfig, templates: CompiledTemplates
    ) -> HeaderBudget:
        droppable = tuple(
            frozenset(map(normalize_name, {default, *templates.using(field)}))
            for default, field in ((GROUPS_HEADER, "groups"), (ROLES_HEADER, "roles"))
        )
        shown = _groups_filter(config.groups, policy) if config.groups else None
        return cls(config.max_bytes, shown, droppable)

    def shown(self, identity: Identity) -> Identity:
        if self.groups is None:
            return identity
        return dataclasses.replace(identity, groups=self.groups.keep(identity.groups))

    def fit(self, pairs: Pairs) -> tuple[Pairs, tuple[str, ...]]:
        size = sum(wire_size(name, value) for name, value in pairs)
        dropped: list[str] = []
        for names in self.droppable:
            if size <= self.max_bytes:
                break
            for name, value in pairs:
                if normalize_name(name) in names:
                    size -= wire_size(name, value)
                    dropped.append(name)
        if not dropped:
            return pairs, ()
        gone = set(dropped)
        return [(n, v) for n, v in pairs if n not in gone], tuple(dropped)


def wire_size(name: str, value: str) -> int:
    """Bytes one header line takes in the request head (values are ASCII here)."""
    return len(name) + len(value) + _LINE_OVERHEAD


def _groups_filter(config: GroupsShown, policy: PolicyConfig) -> GroupsFilter:
    if config.only == "policy":
        names = frozenset(policy_groups(policy))
    else:
        names = frozenset(config.only or ())
    pattern = re.compile(config.match) if config.match is not None else None
    return GroupsFilter(names, pattern)


def policy_groups(policy: PolicyConfig) -> Iterator[str]:
    """Every group name a `groups` criterion of `policy` lists, at any depth."""
    for entry in (*policy.allow, *policy.deny):
        yield from _entry_groups(entry)


def _entry_groups(entry: PolicyEntry) -> Iterator[str]:
    yield from entry.groups or ()
    for child in (*(entry.and_ or ()), *(entry.or_ or ()), *((entry.not_,) if entry.not_ else ())):
        yield from _entry_groups(child)
