"""Session keys: derivation, cookie signing and verification, rotation, storage keys."""

from __future__ import annotations

import re

import pytest

from authgate.sessions.keys import SessionKeys, new_session_id, storage_key
from tests.sessions.personas import SECRET_NEW, SECRET_OLD, SECRET_OTHER

B64URL_43 = re.compile(r"[A-Za-z0-9_-]{43}")


@pytest.fixture
def old_only() -> SessionKeys:
    return SessionKeys.from_secrets([SECRET_OLD])


def test_session_ids_are_256_bit_random_base64url() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(B64URL_43.fullmatch(i) for i in ids)


def test_storage_key_is_a_sha256_of_the_id_never_the_id() -> None:
    session_id = new_session_id()
    key = storage_key(session_id)
    assert re.fullmatch(r"[0-9a-f]{64}", key) and session_id not in key
    assert storage_key(session_id) == key != storage_key(new_session_id())


def test_sign_and_verify(keys: SessionKeys) -> None:
    session_id = new_session_id()
    cookie = keys.sign_session_id(session_id)
    sid, mac = cookie.split(".")
    assert sid == session_id and B64URL_43.fullmatch(mac)
    assert keys.verify_cookie(cookie) == session_id


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: _flip(c, 0), id="id-changed"),
        pytest.param(lambda c: _flip(c, len(c) - 1), id="mac-changed"),
        pytest.param(lambda c: c[:-1], id="mac-truncated"),
        pytest.param(lambda c: c + "A", id="mac-extended"),
        pytest.param(lambda c: c.split(".")[0], id="no-mac"),
        pytest.param(lambda c: c + ".x", id="extra-part"),
        pytest.param(lambda c: "." + c.split(".")[1], id="no-id"),
        pytest.param(lambda c: c.replace(".", "|"), id="wrong-separator"),
        pytest.param(lambda c: c + "\n", id="trailing-newline"),
        pytest.param(lambda c: "é" + c[1:], id="non-ascii"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: c.upper(), id="case-changed"),
    ],
)
def test_tampered_cookie_is_none(keys: SessionKeys, tamper: object) -> None:
    cookie = keys.sign_session_id(new_session_id())
    assert callable(tamper)
    assert keys.verify_cookie(tamper(cookie)) is None


@pytest.mark.parametrize("value", [None, b"bytes", 42, "a" * 10_000, "\udcff.\udcff"])
def test_malformed_input_never_raises(keys: SessionKeys, value: object) -> None:
    assert keys.verify_cookie(value) is None  # type: ignore[arg-type]


def test_cookie_of_another_secret_is_none(keys: SessionKeys) -> None:
    other = SessionKeys.from_secrets([SECRET_OTHER])
    assert keys.verify_cookie(other.sign_session_id(new_session_id())) is None


def test_rotation_old_cookies_verify_while_the_old_secret_is_listed(
    old_only: SessionKeys, keys: SessionKeys
) -> None:
    session_id = new_session_id()
    before = old_only.sign_session_id(session_id)
    assert keys.verify_cookie(before) == session_id  # keys = [new, old]
    assert keys.sign_session_id(session_id) != before  # new cookies use the new secret
    retired = SessionKeys.from_secrets([SECRET_NEW])
    assert retired.verify_cookie(before) is None


def test_each_purpose_has_its_own_key(keys: SessionKeys) -> None:
    new, old = keys.keys
    assert len({new.cookie_mac, new.token_key, old.cookie_mac, old.token_key}) == 4
    assert new.kid != old.kid and len(new.kid) == 8
    assert SessionKeys.from_secrets([SECRET_NEW]).current == new  # deterministic


def test_no_secret_or_duplicates(keys: SessionKeys) -> None:
    with pytest.raises(ValueError):
        SessionKeys.from_secrets([])
    assert SessionKeys.from_secrets([SECRET_NEW, SECRET_OLD, SECRET_NEW]) == keys


@pytest.mark.parametrize("session_id", ["", "short", "has.dot.in-it-0123456789", "x" * 129])
def test_only_base64url_ids_are_signed(keys: SessionKeys, session_id: str) -> None:
    with pytest.raises(ValueError):
        keys.sign_session_id(session_id)


def test_repr_shows_no_key_material(keys: SessionKeys) -> None:
    text = repr(keys)
    assert keys.current.kid in text
    assert keys.current.cookie_mac.hex() not in text and "cookie_mac" not in text


# --- the logout form's CSRF token -------------------------------------------------------


def test_csrf_token_is_bound_to_the_session_and_the_secret(keys: SessionKeys) -> None:
    first, second = new_session_id(), new_session_id()
    token = keys.csrf_token(first)
    assert keys.verify_csrf_token(first, token)
    assert not keys.verify_csrf_token(second, token)
    assert not SessionKeys.from_secrets(["x" * 40]).verify_csrf_token(first, token)
    # Not the cookie's MAC: a token is no use as a cookie, nor a cookie MAC as a token.
    assert token != keys.sign_session_id(first).partition(".")[2]
    assert not keys.verify_csrf_token(first, keys.sign_session_id(first).partition(".")[2])


def test_csrf_token_survives_a_secret_rotation(keys: SessionKeys, old_only: SessionKeys) -> None:
    session_id = new_session_id()
    assert keys.verify_csrf_token(session_id, old_only.csrf_token(session_id))


@pytest.mark.parametrize("token", [None, 7, b"bytes", "", "A" * 42, "A" * 44, "\u00e9" * 43, "A" * 42 + "="])
def test_csrf_token_of_another_shape_is_refused_without_raising(keys: SessionKeys, token: object) -> None:
    assert keys.verify_csrf_token(new_session_id(), token) is False
