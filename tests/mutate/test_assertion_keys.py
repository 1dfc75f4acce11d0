"""The assertion key file: creation, reuse, corruption, rotation, and the JWKS."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate.mutate.assertion import AssertionSigner
from authgate.mutate.assertion_keys import (
    AssertionKeyError,
    AssertionKeys,
    _create,
    rotate_key_file,
)
from authgate.mutate.jwk import jwk_thumbprint
from tests.mutate.personas import alice_admin

NOW = 1_800_000_000.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pem(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, fmt: serialization.PrivateFormat
) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def test_absent_file_is_created_0600_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "assertion.pem"
    keys = AssertionKeys.load_or_create(path)
    assert _mode(path) == 0o600
    assert path.read_bytes().count(b"-----BEGIN PRIVATE KEY-----") == 1
    assert len(keys.keys) == 1
    assert keys.signing.kid == jwk_thumbprint(keys.signing.public_jwk)
    assert sorted(os.listdir(path.parent)) == ["assertion.pem"]  # no temp file left


def test_the_file_is_reused_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    first = AssertionKeys.load_or_create(path)
    content = path.read_bytes()
    second = AssertionKeys.load_or_create(str(path))
    assert second.signing.kid == first.signing.kid
    assert path.read_bytes() == content


def test_a_key_file_readable_by_others_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "assertion.pem"
    AssertionKeys.load_or_create(path)
    assert "readable by others" not in caplog.text
    path.chmod(0o644)
    AssertionKeys.load_or_create(path)
    assert "readable by others (mode 644)" in caplog.text


def test_a_file_created_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    # Two workers start together: the second one's create must yield to the first.
    path = tmp_path / "assertion.pem"
    winner = AssertionKeys.load_or_create(path)
    _create(path)
    assert AssertionKeys.load_or_create(path).signing.kid == winner.signing.kid
    assert sorted(os.listdir(tmp_path)) == ["assertion.pem"]


def test_creation_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: str, dst: object) -> None:
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "assertion.pem"
    AssertionKeys.load_or_create(path)
    assert _mode(path) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["assertion.pem"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no PEM private key found"),
        (b"garbage\n", "no PEM private key found"),
        (b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n", "corrupt"),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "found ENCRYPTED PRIVATE KEY",
        ),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "found CERTIFICATE"),
    ],
)
def test_corrupt_file_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "assertion.pem"
    path.write_bytes(content)
    with pytest.raises(AssertionKeyError, match=message) as caught:
        AssertionKeys.load_or_create(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content  # never "repaired" by overwriting


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["p384", "rsa"],
)
def test_keys_other_than_p256_are_refused(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "assertion.pem"
    path.write_bytes(_pem(key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(AssertionKeyError, match=r"key #1: not an EC P-256 key"):
        AssertionKeys.load_or_create(path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    path.mkdir()  # exists, cannot be read as a file (chmod 000 does not stop root)
    with pytest.raises(AssertionKeyError, match="cannot read assertion key file"):
        AssertionKeys.load_or_create(path)


def test_sec1_keys_are_accepted(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "assertion.pem"
    path.write_bytes(_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
    keys = AssertionKeys.load_or_create(path)
    assert keys.signing.private_key.private_numbers() == key.private_numbers()


def test_jwks_shape(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    AssertionKeys.load_or_create(path)
    rotate_key_file(path)
    keys = AssertionKeys.load_or_create(path)
    jwks = keys.jwks()
    assert list(jwks) == ["keys"]
    assert [k["kid"] for k in jwks["keys"]] == [k.kid for k in keys.keys]
    for jwk in jwks["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "use", "alg", "kid"}  # never "d"
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
        assert jwk["kid"] == jwk_thumbprint(jwk)
    jwks["keys"].clear()  # a caller's copy: the keys object is unchanged
    assert len(keys.jwks()["keys"]) == 2


def test_rotation_keeps_the_previous_key_published(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    old = AssertionKeys.load_or_create(path)
    old_token = AssertionSigner(old).sign(
        alice_admin, audience="hr", now=NOW, ttl=60, request_id="r1"
    )

    new_kid = rotate_key_file(path)
    new = AssertionKeys.load_or_create(path)

    assert _mode(path) == 0o600
    assert [k.kid for k in new.keys] == [new_kid, old.signing.kid]
    assert new.signing.kid == new_kid
    public = {k.kid: k.private_key.public_key() for k in new.keys}
    claims = jwt.decode(
        old_token,
        public[jwt.get_unverified_header(old_token)["kid"]],
        algorithms=["ES256"],
        audience="hr",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["sub"] == "alice-sub"
    assert sorted(os.listdir(tmp_path)) == ["assertion.pem"]


def test_rotation_keeps_at_most_keep_keys(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    kids = [AssertionKeys.load_or_create(path).signing.kid]
    for _ in range(3):
        kids.insert(0, rotate_key_file(path, keep=2))
    assert [k.kid for k in AssertionKeys.load_or_create(path).keys] == kids[:2]
    kid = rotate_key_file(path, keep=1)
    assert [k.kid for k in AssertionKeys.load_or_create(path).keys] == [kid]


def test_rotating_an_absent_file_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "new" / "assertion.pem"
    kid = rotate_key_file(path)
    assert AssertionKeys.load_or_create(path).signing.kid == kid
    assert _mode(path) == 0o600


def test_rotating_a_corrupt_file_fails_without_touching_it(tmp_path: Path) -> None:
    path = tmp_path / "assertion.pem"
    path.write_bytes(b"garbage")
    with pytest.raises(AssertionKeyError):
        rotate_key_file(path)
    assert path.read_bytes() == b"garbage"


def test_rotating_into_an_unwritable_place_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(AssertionKeyError, match="cannot write assertion key file"):
        rotate_key_file(blocker / "assertion.pem")


def test_keep_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        rotate_key_file(tmp_path / "k.pem", keep=0)
