"""The known-device cookie: a random device id the gateway signed, kept for a year.

Contract: `KnownDeviceCookie.from_secrets(cookie_secrets, max_age=...)`:
- `issue(now, device_id=None)` answers a cookie value for a new random device id (32
  random bytes, base64url), or re-signs a given one (to refresh or re-key it);
- `verify(value, now)` answers `KnownDevice` (the id, when it was signed, and whether
  the current key signed it) or None — tampered, malformed, older than `max_age`,
  or signed in the future. Never raises.
- `KnownDevice.needs_reissue(now)`: signed by an older secret, or past half its
  lifetime. Set a fresh cookie then (same id), so active devices never expire and a
  secret can be retired once every active device has been re-signed.

Value: `v1.<device id>.<signed at, epoch seconds>.<mac>`, the MAC an HMAC-SHA256 over
everything before it. The cookie carries its signing time because `Max-Age` only
asks the browser to forget it: the server enforces the lifetime itself.

Keys: one per cookie secret, derived with HKDF-SHA256 (RFC 5869) under the label
`authgate/v1/known-device-cookie-mac` — never the session cookie's MAC key
(`sessions/keys.py`). With one shared key a known-device cookie (`id.mac`) would also
be a well-formed session cookie; a key per purpose means a value minted for one
purpose is garbage to the other. The first secret signs; all verify (rotation as for
sessions: put the new secret first, remove the old one later).
The cookie says "this browser was here before"; which user it was seen with is the
history store's (`risk.history`), so one cookie works for every user of a browser.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authgate.config.schema_adaptive import KnownDeviceCookieConfig
from authgate.device.facts import DeviceFacts
from authgate.sessions.keys import b64url

_INFO = b"authgate/v1/known-device-cookie-mac"
_VERSION = "v1"
_ID_BYTES = 32
_SKEW = 300.0  # a cookie signed up to 5 minutes "in the future" (another replica's clock)
_B64 = r"[A-Za-z0-9_-]"
_DEVICE_ID = re.compile(rf"{_B64}{{43}}")
_VALUE = re.compile(rf"v1\.({_B64}{{43}})\.(\d{{1,12}})\.({_B64}{{43}})")


def _derive(secret: str) -> bytes:
    # The secrets are high-entropy (>= 32 characters, checked by the config schema),
    # so HKDF without a salt is sound (RFC 5869 §3.1).
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(secret.encode("utf-8"))


def _mac(key: bytes, signed: str) -> str:
    return b64url(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class KnownDevice:
    device_id: str
    signed_at: int
    current_key: bool  # False: an older secret signed it
    max_age: float

    def needs_reissue(self, now: float) -> bool:
        return not self.current_key or now - self.signed_at > self.max_age / 2

    @property
    def facts(self) -> DeviceFacts:
        return DeviceFacts(source="cookie", device_id=self.device_id)


class KnownDeviceCookie:
    def __init__(self, keys: Sequence[bytes], *, max_age: float, name: str) -> None:
        if not keys:
            raise ValueError("at least one secret is needed")
        self._keys = tuple(keys)
        self.max_age = max_age
        self.name = name

    @classmethod
    def from_secrets(
        cls, cookie_secrets: Sequence[str], config: KnownDeviceCookieConfig | None = None
    ) -> KnownDeviceCookie:
        config = config or KnownDeviceCookieConfig()
        keys = [_derive(s) for s in dict.fromkeys(cookie_secrets)]  # a repeat is one key
        return cls(keys, max_age=config.max_age, name=config.name)

    def issue(self, now: float, device_id: str | None = None) -> str:
        device_id = device_id or b64url(_random.token_bytes(_ID_BYTES))
        if not _DEVICE_ID.fullmatch(device_id):
            raise ValueError("a device id is 43 base64url characters")
        signed = f"{_VERSION}.{device_id}.{int(now)}"
        return f"{signed}.{_mac(self._keys[0], signed)}"

    def verify(self, value: str, now: float) -> KnownDevice | None:
        # The shape check first: it also keeps non-ASCII text away from compare_digest.
        found = _VALUE.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            return None
        device_id, signed_at = found.group(1), int(found.group(2))
        if not now - self.max_age < signed_at <= now + _SKEW:
            return None
        signed = value.rpartition(".")[0]
        for index, key in enumerate(self._keys):
            # Constant-time compare: the MAC cannot be learnt byte by byte (CWE-208).
            if hmac.compare_digest(_mac(key, signed), found.group(3)):
                return KnownDevice(device_id, signed_at, index == 0, self.max_age)
        return None
