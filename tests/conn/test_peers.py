"""The per-address table: admitted, then refused (answered), then dropped."""

from __future__ import annotations

from authgate.conn.peers import Admission, PeerTable


def test_admitted_refused_dropped_per_address() -> None:
    table = PeerTable()
    got = [table.admit("10.0.0.1", 2) for _ in range(5)]
    assert got == [Admission.ADMITTED] * 2 + [Admission.REFUSED] * 2 + [Admission.DROPPED]
    assert table.admit("10.0.0.2", 2) is Admission.ADMITTED  # another address


def test_release_frees_the_slot_and_forgets_empty_addresses() -> None:
    table = PeerTable()
    first = table.admit("a", 1)
    assert table.admit("a", 1) is Admission.REFUSED
    table.release("a", first)
    assert table.count("a") == 0
    assert table.admit("a", 1) is Admission.ADMITTED
    table.release("a", Admission.DROPPED)  # never counted: no effect
    assert table.count("a") == 1 and table.count("a", Admission.REFUSED) == 1


def test_the_cap_applies_per_call() -> None:
    table = PeerTable()
    assert table.admit("proxy", 1) is Admission.ADMITTED
    assert table.admit("proxy", 3) is Admission.ADMITTED  # a larger cap (trusted proxy)
