"""The assertion key file: EC P-256 signing keys, their JWKS, creation and rotation.

Contract:

* `AssertionKeys.load_or_create(path)` reads a PEM bundle of EC P-256 private keys
  (PKCS#8; SEC1 `EC PRIVATE KEY` blocks are accepted too), newest first. The first key
  signs; every key is published in `jwks()`, each with `kid` = its RFC 7638 thumbprint.
  An absent file is created with one new key, mode 0600 from the first byte, written
  to a temp file and linked into place only if the path is still free — two workers
  starting together end up sharing one key instead of one signing with a key that is
  not in the file. An unreadable or corrupt file raises `AssertionKeyError` naming the
  file (it is never "repaired" by overwriting); one readable by others is logged.
* `rotate_key_file(path, keep=2)` puts a new key first and keeps at most `keep` keys,
  replacing the file atomically (temp file + `os.replace`). The previous key stays
  published, so an assertion minted just before the rotation still verifies; a running
  gateway signs with the new key once it reloads the file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.mutate.jwk import ec_public_jwk, jwk_thumbprint

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL)
_PRIVATE_LABELS = {b"PRIVATE KEY", b"EC PRIVATE KEY"}


class AssertionKeyError(Exception):
    """The assertion key file cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class AssertionKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, str]  # with kid, use and alg

    @classmethod
    def from_private(cls, private_key: ec.EllipticCurvePrivateKey) -> AssertionKey:
        jwk = ec_public_jwk(private_key.public_key())
        kid = jwk_thumbprint(jwk)
        return cls(kid, private_key, {**jwk, "use": "sig", "alg": ALGORITHM, "kid": kid})


class AssertionKeys:
    """The loaded key bundle: `signing` signs, all of `keys` verify."""

    def __init__(self, keys: tuple[AssertionKey, ...], path: Path | None = None) -> None:
        if not keys:
            raise AssertionKeyError(f"{path}: no keys")
        self.keys = keys
        self.path = path
        self._jwks = {"keys": [dict(k.public_jwk) for k in keys]}

    @property
    def signing(self) -> AssertionKey:
        return self.keys[0]

    @classmethod
    def generate(cls) -> AssertionKeys:
        return cls((AssertionKey.from_private(_new_private_key()),))

    @classmethod
    def load_or_create(cls, path: str | Path) -> AssertionKeys:
        path = Path(path)
        if not path.exists():
            _create(path)
        keys = cls.load(path)
        mode = exposed_mode(path)
        if mode is not None:
            log.warning("assertion key file %s is readable by others (mode %o): chmod 600", path, mode)
        return keys

    @classmethod
    def load(cls, path: Path) -> AssertionKeys:
        """Read an existing key file; raises `AssertionKeyError` naming it."""
        return cls(_read_keys(path), path)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set (RFC 7517 §5) to serve at `/.authgate/jwks.json`."""
        return {"keys": [dict(k) for k in self._jwks["keys"]]}


def rotate_key_file(path: str | Path, keep: int = 2) -> str:
    """Prepend a new key to the file, keep at most `keep` keys; return the new kid."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    path = Path(path)
    old = [k.private_key for k in _read_keys(path)] if path.exists() else []
    new = _new_private_key()
    try:
        _write_atomic(path, _pem_bundle([new, *old][:keep]), replace=True)
    except OSError as exc:
        raise AssertionKeyError(f"{path}: cannot write assertion key file: {exc}") from exc
    return AssertionKey.from_private(new).kid


def _new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _read_keys(path: Path) -> tuple[AssertionKey, ...]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssertionKeyError(f"{path}: cannot read assertion key file: {exc.strerror}") from exc
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise AssertionKeyError(f"{path}: no PEM private key found (corrupt or not a key file)")
    return tuple(_parse_block(path, n, m) for n, m in enumerate(blocks, start=1))


def _parse_block(path: Path, number: int, block: re.Match[bytes]) -> AssertionKey:
    where = f"{path}: key #{number}"
    if block.group(1) not in _PRIVATE_LABELS:
        label = block.group(1).decode()
        raise AssertionKeyError(f"{where}: expected an unencrypted PRIVATE KEY, found {label}")
    try:
        key = serialization.load_pem_private_key(block.group(0), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AssertionKeyError(f"{where}: corrupt private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise AssertionKeyError(f"{where}: not an EC P-256 key (ES256 needs P-256)")
    return AssertionKey.from_private(key)


def exposed_mode(path: Path) -> int | None:
    """The key file's mode when group or others may read it, else None."""
    # Anyone who can read the key can mint identities for every upstream; say so
    # (as ssh does) rather than refuse, since some secret mounts are 0640 by design.
    mode = path.stat().st_mode & 0o777
    return mode if mode & 0o077 else None


def _pem_bundle(keys: list[ec.EllipticCurvePrivateKey]) -> bytes:
    return b"".join(
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for k in keys
    )


def _create(path: Path) -> None:
    try:
        _write_atomic(path, _pem_bundle([_new_private_key()]), replace=False)
    except FileExistsError:
        return  # another worker created it first: use theirs
    except OSError as exc:
        raise AssertionKeyError(f"{path}: cannot create assertion key file: {exc}") from exc
    log.info("created assertion key file %s", path)


def _write_atomic(path: Path, data: bytes, *, replace: bool) -> None:
    """Write `data` to `path` with mode 0600 so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp creates the file 0600 from the start: the key is never world-readable.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link_if_absent(tmp, path)
    finally:
        _unlink_quietly(tmp)  # gone after os.replace; a second name after os.link


def _link_if_absent(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path)  # raises FileExistsError instead of overwriting
    except FileExistsError:
        raise
    except OSError:
        # No hard links on this filesystem: fall back to a (still atomic) replace.
        os.replace(tmp, path)


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
