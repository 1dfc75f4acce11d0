"""mTLS devices: the listener's SSL context, and device facts from a client certificate.

Contract:
- `server_ssl_context(cert, key, client_ca, mode)` is the TLS listener's context
  (TLS 1.2+). With `client_ca` the server asks for a client certificate and OpenSSL
  verifies any certificate sent against that bundle (chain, validity dates) during
  the handshake: `required` refuses a handshake without one, `optional` accepts it
  and the request simply has no mTLS device. A certificate from another CA, expired,
  or otherwise unverifiable fails the handshake in both modes — a present but bad
  credential is never treated as absent. Without `client_ca` no certificate is asked
  for. Unreadable files raise `TlsFileError` (a `ValueError`) naming each file that
  failed, as "pair" (certificate and key) or "client_ca".
- `device_from_certificate(der)` answers `DeviceFacts(source="mtls")` whose
  `device_id` is the lowercase hex SHA-256 of the DER certificate (the fingerprint
  operators see in `openssl x509 -fingerprint -sha256`), with subject and issuer as
  RFC 4514 strings and `not_after` in epoch seconds. A renewed certificate is a new
  fingerprint, so a new device id: an MDM that renews certificates should also
  send a posture token, whose device id survives renewals.
- `device_from_ssl_object(obj)` reads the verified peer certificate of a connection
  (aiohttp: `request.transport.get_extra_info("ssl_object")`), or None.
Only certificates OpenSSL verified reach these functions: the context is the check.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Literal

from cryptography import x509

from authgate.device.facts import DeviceFacts

ClientCertMode = Literal["optional", "required"]
_VERIFY = {"optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


TlsFile = Literal["pair", "client_ca"]


class TlsFileError(ValueError):
    """TLS files that cannot be loaded: `failures` names each (which, message)."""

    def __init__(self, failures: list[tuple[TlsFile, str]]) -> None:
        super().__init__("; ".join(message for _, message in failures))
        self.failures = failures


def server_ssl_context(
    cert: str | Path,
    key: str | Path,
    client_ca: str | Path | None = None,
    mode: ClientCertMode = "optional",
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    failures: list[tuple[TlsFile, str]] = []
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as error:
        failures.append(("pair", f"cannot load the TLS certificate {cert} / key {key}: {error}"))
    if client_ca is not None:  # tried even after a bad pair: every problem at once
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as error:
            failures.append(("client_ca", f"cannot load the client CA bundle {client_ca}: {error}"))
        context.verify_mode = _VERIFY[mode]
    if failures:
        raise TlsFileError(failures)
    return context


def device_from_certificate(der: bytes) -> DeviceFacts:
    certificate = x509.load_der_x509_certificate(der)
    return DeviceFacts(
        source="mtls",
        device_id=hashlib.sha256(der).hexdigest(),
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc.timestamp(),
    )


def device_from_ssl_object(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> DeviceFacts | None:
    """The mTLS device of a connection, or None (plain HTTP, or no certificate sent)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return device_from_certificate(der) if der else None
