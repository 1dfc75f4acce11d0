"""The known-device cookie: issue, verify, tamper, expiry, rotation, key separation."""

from __future__ import annotations

import pytest

from authgate.config.schema_adaptive import KnownDeviceCookieConfig
from authgate.device.known_device import KnownDeviceCookie
from authgate.sessions.keys import SessionKeys

SECRET_NEW = "new-secret-0123456789-abcdefghijklmnop"
SECRET_OLD = "old-secret-0123456789-abcdefghijklmnop"
NOW = 1_767_780_000.0
YEAR = 365 * 86400.0


@pytest.fixture
def cookies() -> KnownDeviceCookie:
    return KnownDeviceCookie.from_secrets([SECRET_NEW, SECRET_OLD])


def test_issue_then_verify(cookies: KnownDeviceCookie) -> None:
    value = cookies.issue(NOW)
    device = cookies.verify(value, NOW + 60)
    assert device is not None and device.current_key and device.signed_at == int(NOW)
    assert device.facts.source == "cookie" and device.facts.device_id == device.device_id
    assert len(device.device_id) == 43 and value.startswith(f"v1.{device.device_id}.")
    assert cookies.verify(cookies.issue(NOW), NOW) != device  # each issue: a new id
    assert cookies.name == "authgate-device" and cookies.max_age == YEAR


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_tampering_is_refused(cookies: KnownDeviceCookie) -> None:
    value = cookies.issue(NOW)
    _, device_id, signed_at, mac = value.split(".")
    forged = [
        _flip(value, 5),  # the device id
        value.replace(f".{signed_at}.", f".{int(NOW) + 1}."),  # the signing time
        _flip(value, len(value) - 1),  # the MAC
        f"v2.{device_id}.{signed_at}.{mac}",
        f"v1.{device_id}.{signed_at}",
        value + ".",
        value + "A",
        "",
        "v1." + "é" * 43 + f".{signed_at}.{mac}",
    ]
    for bad in forged:
        assert cookies.verify(bad, NOW) is None, bad


def test_expired_and_future_cookies_are_refused(cookies: KnownDeviceCookie) -> None:
    value = cookies.issue(NOW)
    assert cookies.verify(value, NOW + YEAR - 1) is not None
    assert cookies.verify(value, NOW + YEAR) is None  # the server enforces max_age
    assert cookies.verify(value, NOW - 300) is not None  # another replica's clock
    assert cookies.verify(value, NOW - 301) is None


def test_reissue_after_half_the_lifetime_keeps_the_id(cookies: KnownDeviceCookie) -> None:
    device = cookies.verify(cookies.issue(NOW), NOW)
    assert device is not None
    assert not device.needs_reissue(NOW + YEAR / 2)
    assert device.needs_reissue(NOW + YEAR / 2 + 1)
    later = NOW + YEAR * 0.9
    again = cookies.verify(cookies.issue(later, device.device_id), later)
    assert again is not None and again.device_id == device.device_id


def test_rotation(cookies: KnownDeviceCookie) -> None:
    old_only = KnownDeviceCookie.from_secrets([SECRET_OLD])
    value = old_only.issue(NOW)
    device = cookies.verify(value, NOW)  # the old secret still verifies...
    assert device is not None and not device.current_key and device.needs_reissue(NOW)
    resigned = cookies.issue(NOW, device.device_id)  # ...and the device moves to the new
    assert KnownDeviceCookie.from_secrets([SECRET_NEW]).verify(resigned, NOW) is not None
    assert KnownDeviceCookie.from_secrets([SECRET_NEW]).verify(value, NOW) is None


def test_the_session_key_is_not_the_device_key(cookies: KnownDeviceCookie) -> None:
    # A session cookie is never a device cookie, nor the other way round.
    sessions = SessionKeys.from_secrets([SECRET_NEW])
    value = cookies.issue(NOW)
    _, device_id, _, mac = value.split(".")
    assert sessions.verify_cookie(f"{device_id}.{mac}") is None
    session_cookie = sessions.sign_session_id(device_id)
    assert cookies.verify(f"v1.{device_id}.{int(NOW)}.{session_cookie.split('.')[1]}", NOW) is None


def test_config_and_bad_input() -> None:
    config = KnownDeviceCookieConfig(name="dev", max_age="30d")  # type: ignore[arg-type]
    short = KnownDeviceCookie.from_secrets([SECRET_NEW], config)
    assert (short.name, short.max_age) == ("dev", 30 * 86400.0)
    with pytest.raises(ValueError, match="43 base64url"):
        short.issue(NOW, "too-short")
    with pytest.raises(ValueError, match="at least one secret"):
        KnownDeviceCookie.from_secrets([])
