"""Device facts from a DER certificate, and choosing among device sources (pure parts)."""

from __future__ import annotations

import datetime
import hashlib
import ssl

import trustme

from authgate.device.cert import device_from_certificate
from authgate.device.facts import DeviceFacts, primary_device


def test_facts_from_a_certificate() -> None:
    ca = trustme.CA(organization_name="Devices CA")
    end = datetime.datetime(2031, 5, 4, 3, 2, 1, tzinfo=datetime.UTC)
    leaf = ca.issue_cert("laptop-7.example.com", common_name="laptop-7", not_after=end)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    facts = device_from_certificate(der)
    assert facts.source == "mtls"
    assert facts.device_id == hashlib.sha256(der).hexdigest()  # `openssl x509 -fingerprint -sha256`
    assert facts.subject is not None and "CN=laptop-7" in facts.subject
    assert facts.issuer is not None and "O=Devices CA" in facts.issuer
    assert facts.not_after == end.timestamp()
    assert facts.key == f"mtls:{facts.device_id}"


MTLS = DeviceFacts("mtls", "fp")
POSTURE = DeviceFacts("posture", "mdm-42")
COOKIE = DeviceFacts("cookie", "random")


def test_primary_device_prefers_the_strongest_source() -> None:
    assert primary_device(COOKIE, POSTURE, MTLS) is MTLS
    assert primary_device(COOKIE, None, POSTURE) is POSTURE
    assert primary_device(None, COOKIE) is COOKIE
    assert primary_device(None, None) is None
    assert primary_device() is None
