"""Table tests for `authgate.client_ip` (STYLE.md lesson 9: a pure function, a big table)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate import client_ip as client_ip_module
from authgate.client_ip import (
    MAX_HOPS,
    UNKNOWN,
    TrustedProxies,
    client_ip,
    trusted_peer,
)

NONE: tuple[str, ...] = ()
LAN = ("10.0.0.0/8",)
MULTI = ("10.0.0.0/8", "192.168.0.0/16", "fd00::/8", "2001:db8:ffff::/48")
NESTED = ("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24")
LOOPBACK = ("127.0.0.1/32", "::1/128")
HOST_ROUTE = ("203.0.113.50/32",)
MAPPED_CONFIG = ("::ffff:10.0.0.0/104",)

CLIENT = "203.0.113.7"
PROXY = "10.0.0.1"


def proxies(networks: Sequence[str]) -> TrustedProxies:
    return TrustedProxies.from_networks(ipaddress.ip_network(n) for n in networks)


XFF = Sequence[str] | str | None

# (peer, X-Forwarded-For, trusted networks, expected client)
CASES: list[tuple[str | None, XFF, tuple[str, ...], str]] = []
IDS: list[str] = []


def case(id_: str, peer: str | None, xff: XFF, trusted: tuple[str, ...], want: str) -> None:
    CASES.append((peer, xff, trusted, want))
    IDS.append(id_)


# --- the peer alone -------------------------------------------------------------------
case("untrusted-v4-no-xff", CLIENT, None, LAN, CLIENT)
case("trusted-peer-no-xff", PROXY, None, LAN, PROXY)
case("trusted-peer-empty-header-list", PROXY, [], LAN, PROXY)
case("peer-none-unix-socket", None, CLIENT, LAN, UNKNOWN)
case("peer-none-no-xff", None, None, NONE, UNKNOWN)
case("peer-empty-string", "", CLIENT, LAN, UNKNOWN)
case("peer-not-an-ip", "localhost", CLIENT, LAN, UNKNOWN)
case("peer-v6-normalized", "2001:DB8:0:0::7", None, NONE, "2001:db8::7")
case("peer-mapped-is-v4", "::ffff:203.0.113.7", None, NONE, CLIENT)
case("peer-mapped-trusted", "::ffff:10.0.0.1", CLIENT, LAN, CLIENT)
case("peer-link-local-zone-dropped", "fe80::1%eth0", None, NONE, "fe80::1")
case("peer-with-port", "203.0.113.7:51234", None, NONE, CLIENT)
# --- untrusted peers: the header is never read (oauth2-proxy's old default) ------------
case("default-empty-trusted-ignores-xff", PROXY, "198.51.100.1", NONE, PROXY)
case("untrusted-peer-spoofed-xff", CLIENT, "1.1.1.1", LAN, CLIENT)
case("untrusted-peer-spoofs-trusted-chain", CLIENT, "1.1.1.1, 10.0.0.2", LAN, CLIENT)
case("untrusted-peer-garbage-xff", CLIENT, "unknown, _x, ,", LAN, CLIENT)
case("untrusted-v6-peer", "2001:db8::7", "10.0.0.2", LAN, "2001:db8::7")
case("v6-peer-v4-only-trusted", "::1", "198.51.100.1", LAN, "::1")
case("host-route-neighbour-untrusted", "203.0.113.51", "198.51.100.1", HOST_ROUTE, "203.0.113.51")
# --- trusted chains, walked from the right --------------------------------------------
case("one-proxy-v4-client", PROXY, CLIENT, LAN, CLIENT)
case("one-proxy-v6-client", PROXY, "2001:db8::7", LAN, "2001:db8::7")
case("chain-of-three", PROXY, "203.0.113.7, 10.0.0.3, 10.0.0.2", LAN, CLIENT)
case("chain-mixed-families", "fd00::1", "198.51.100.9, 192.168.1.1, fd00::2", MULTI, "198.51.100.9")
case("chain-v6-proxies", "2001:db8:ffff::1", "2001:db8::7, fd00::9", MULTI, "2001:db8::7")
case("spoofed-left-entries", PROXY, "1.1.1.1, 8.8.8.8, 203.0.113.7", LAN, CLIENT)
case("spoofed-left-behind-chain", PROXY, "6.6.6.6, 203.0.113.7, 10.0.0.2", LAN, CLIENT)
case("spoofed-trusted-looking-left", PROXY, "10.9.9.9, 203.0.113.7", LAN, CLIENT)
case("host-route-trusted", "203.0.113.50", "198.51.100.1", HOST_ROUTE, "198.51.100.1")
case("loopback-v6-trusted", "::1", "198.51.100.1", LOOPBACK, "198.51.100.1")
case("loopback-v4-trusted", "127.0.0.1", "198.51.100.1", LOOPBACK, "198.51.100.1")
case("nested-cidrs", "10.1.2.3", "203.0.113.7, 10.1.2.4, 10.200.0.1", NESTED, CLIENT)
case("mapped-network-in-config", PROXY, "198.51.100.1", MAPPED_CONFIG, "198.51.100.1")
# --- several header lines are one list, in order (RFC 9110 §5.3) ----------------------
case("two-lines-spoof-then-proxy", PROXY, ["6.6.6.6", "203.0.113.7, 10.0.0.2"], LAN, CLIENT)
case("three-lines-one-each", PROXY, ["203.0.113.7", "10.0.0.3", "10.0.0.2"], LAN, CLIENT)
case("lines-rightmost-wins", PROXY, ["203.0.113.7", "198.51.100.1"], LAN, "198.51.100.1")
case("lines-trusted-first", PROXY, ["10.0.0.3", "203.0.113.7"], LAN, CLIENT)
case("lines-tuple", PROXY, ("6.6.6.6", CLIENT), LAN, CLIENT)
# --- spacing, ports, brackets, normal form ---------------------------------------------
case("spaces-around", PROXY, "  203.0.113.7 ,10.0.0.2  ", LAN, CLIENT)
case("tabs-around", PROXY, "\t203.0.113.7\t", LAN, CLIENT)
case("no-spaces", PROXY, "203.0.113.7,10.0.0.2", LAN, CLIENT)
case("v4-with-port", PROXY, "203.0.113.7:51234", LAN, CLIENT)
case("v6-bracketed", PROXY, "[2001:db8::7]", LAN, "2001:db8::7")
case("v6-bracketed-port", PROXY, "[2001:db8::7]:443", LAN, "2001:db8::7")
case("v6-long-form-normalized", PROXY, "2001:0DB8:0000:0000::0007", LAN, "2001:db8::7")
case("v6-mapped-in-xff", PROXY, "::ffff:203.0.113.7", LAN, CLIENT)
case("v6-mapped-trusted-hop", PROXY, "203.0.113.7, ::ffff:10.0.0.2", LAN, CLIENT)
case("v6-bracketed-mapped-port", PROXY, "203.0.113.7, [::ffff:10.0.0.2]:80", LAN, CLIENT)
case("trusted-hop-with-port", PROXY, "203.0.113.7, 10.0.0.2:8080", LAN, CLIENT)
# --- malformed entries stop the walk at the hop that handed them over ------------------
case("unknown-rightmost", PROXY, "unknown", LAN, PROXY)
case("unknown-mid-chain", PROXY, "6.6.6.6, unknown, 10.0.0.2", LAN, "10.0.0.2")
case("garbage-before-attacker-value", PROXY, "6.6.6.6, garbage", LAN, PROXY)
case("hostname-entry", PROXY, "evil.example, 10.0.0.2", LAN, "10.0.0.2")
case("obfuscated-node", PROXY, "_hidden", LAN, PROXY)
case("obfuscated-mid-chain", PROXY, "6.6.6.6, _x, 10.0.0.2", LAN, "10.0.0.2")
case("empty-header-value", PROXY, "", LAN, PROXY)
case("empty-header-line-right", PROXY, [CLIENT, ""], LAN, PROXY)
case("empty-entry-mid-chain", PROXY, "6.6.6.6,,10.0.0.2", LAN, "10.0.0.2")
case("trailing-comma", PROXY, "203.0.113.7,", LAN, PROXY)
case("leading-comma", PROXY, ",203.0.113.7", LAN, CLIENT)
case("only-commas", PROXY, ",,,", LAN, PROXY)
case("whitespace-only", PROXY, "   ", LAN, PROXY)
case("zone-id-in-xff", PROXY, "fe80::1%eth0", LAN, PROXY)
case("bracketed-v4", PROXY, "[203.0.113.7]", LAN, PROXY)
case("port-too-large", PROXY, "203.0.113.7:99999", LAN, PROXY)
case("port-empty", PROXY, "203.0.113.7:", LAN, PROXY)
case("port-only", PROXY, ":80", LAN, PROXY)
case("port-fullwidth-digits", PROXY, "203.0.113.7:\uff18\uff10", LAN, PROXY)
case("leading-zero-octet", PROXY, "010.0.0.1", LAN, PROXY)
case("octet-out-of-range", PROXY, "256.1.1.1", LAN, PROXY)
case("quoted-entry", PROXY, '"203.0.113.7"', LAN, PROXY)
case("unclosed-bracket", PROXY, "[2001:db8::7", LAN, PROXY)
case("junk-after-bracket", PROXY, "[2001:db8::7]x", LAN, PROXY)
case("integer-form", PROXY, "3405803783", LAN, PROXY)
case("cidr-entry", PROXY, "203.0.113.0/24", LAN, PROXY)
case("arabic-digits", PROXY, "\u0661.\u0662.\u0663.\u0664", LAN, PROXY)
case("rfc7239-syntax-in-xff", PROXY, "for=203.0.113.7", LAN, PROXY)
case("overlong-entry", PROXY, "1" * 10_000, LAN, PROXY)
case("overlong-padding-ok", PROXY, " " * 1000 + CLIENT + "\t" * 1000, LAN, CLIENT)
case("longest-valid-entry", PROXY, "[0000:0000:0000:0000:0000:ffff:203.0.113.7]:65535", LAN, CLIENT)
# --- every entry trusted: the leftmost ---------------------------------------------------
case("all-trusted-chain", PROXY, "10.0.0.9, 10.0.0.3, 10.0.0.2", LAN, "10.0.0.9")
case("all-trusted-single", PROXY, "10.0.0.5", LAN, "10.0.0.5")
case("all-trusted-then-garbage", PROXY, "junk, 10.0.0.9, 10.0.0.2", LAN, "10.0.0.9")
case("all-trusted-nested", "10.1.2.3", "10.1.0.9, 10.7.7.7", NESTED, "10.1.0.9")
# --- bounded walk ------------------------------------------------------------------------
HOPS_10K = ["10.0.0.2"] * 10_000
case("huge-10k-trusted-stops-at-cap", PROXY, ",".join(["6.6.6.6", *HOPS_10K]), LAN, "10.0.0.2")
case("huge-10k-client-rightmost", PROXY, ",".join(["6.6.6.6"] * 10_000 + [CLIENT]), LAN, CLIENT)
case("huge-10k-lines", PROXY, ["6.6.6.6"] * 10_000 + [CLIENT], LAN, CLIENT)
case("cap-client-within-reach", PROXY, ",".join([CLIENT, *HOPS_10K[: MAX_HOPS - 1]]), LAN, CLIENT)
case("cap-client-beyond-reach", PROXY, ",".join([CLIENT, *HOPS_10K[:MAX_HOPS]]), LAN, "10.0.0.2")


@pytest.mark.parametrize(("peer", "xff", "trusted", "want"), CASES, ids=IDS)
def test_client_ip(peer: str | None, xff: XFF, trusted: tuple[str, ...], want: str) -> None:
    assert client_ip(peer, xff, proxies(trusted)) == want


def test_table_is_large() -> None:
    assert len(CASES) >= 50
    assert len(set(IDS)) == len(IDS)


def test_huge_header_walk_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = client_ip_module.parse_address

    def counting(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(client_ip_module, "parse_address", counting)
    client_ip_module._parse_cached.cache_clear()
    hops = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(100_000)]
    assert client_ip(PROXY, ",".join(hops), proxies(LAN)) == hops[-MAX_HOPS]
    assert parsed == [PROXY, *reversed(hops[-MAX_HOPS:])]  # the peer, then the capped walk


@pytest.mark.parametrize(
    ("peer", "trusted", "want"),
    [
        pytest.param(PROXY, LAN, True, id="v4-in-network"),
        pytest.param(CLIENT, LAN, False, id="v4-outside"),
        pytest.param("::ffff:10.0.0.1", LAN, True, id="mapped-in-v4-network"),
        pytest.param("fd00::1", MULTI, True, id="v6-in-network"),
        pytest.param("fe80::1%eth0", ("fe80::/10",), True, id="link-local-zone"),
        pytest.param(None, LAN, False, id="unix-socket"),
        pytest.param("", LAN, False, id="empty"),
        pytest.param("garbage", LAN, False, id="not-an-ip"),
        pytest.param(PROXY, NONE, False, id="nothing-trusted"),
    ],
)
def test_trusted_peer(peer: str | None, trusted: tuple[str, ...], want: bool) -> None:
    assert trusted_peer(peer, proxies(trusted)) is want


def test_contains_accepts_text_and_addresses() -> None:
    trusted = proxies(MULTI)
    assert trusted.contains("192.168.4.4")
    assert trusted.contains(ipaddress.ip_address("::ffff:192.168.4.4"))
    assert not trusted.contains("not-an-ip")
    assert not trusted.contains(ipaddress.ip_address("2001:db8::1"))


# --- properties ----------------------------------------------------------------------------

TRUSTED_MULTI = proxies(MULTI)
HEADER = st.one_of(
    st.none(),
    st.text(),
    st.lists(st.text()),
    st.lists(st.ip_addresses().map(str)).map(", ".join),
)


def _plain(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    return str(mapped or addr)


@given(peer=st.ip_addresses(), header=HEADER)
def test_untrusted_peer_is_always_the_answer(
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address, header: XFF
) -> None:
    if TRUSTED_MULTI.contains(peer):
        return
    assert client_ip(str(peer), header, TRUSTED_MULTI) == _plain(peer)


@given(header=HEADER)
def test_trusted_peer_answer_is_an_address_from_the_request(header: XFF) -> None:
    answer = client_ip(PROXY, header, TRUSTED_MULTI)
    assert ipaddress.ip_address(answer)  # never garbage, never "unknown"
    lines = [header] if isinstance(header, str) else list(header or [])
    seen = {PROXY} | {
        _plain(addr)
        for line in lines
        for entry in line.split(",")
        if (addr := client_ip_module.parse_address(entry)) is not None
    }
    assert answer in seen
