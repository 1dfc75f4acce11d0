"""What the gateway knows about the device a request comes from.

Contract: `DeviceFacts` is a frozen value built by one source — `mtls` (a verified
client certificate), `posture` (a verified posture token) or `cookie` (a verified
known-device cookie) — and read by policies, risk signals and the decision log.
`device_id` is stable per device and source, at most `MAX_DEVICE_ID` characters.
A credential that is present but bad raises `DeviceError` (STYLE.md lesson 3: never
a silent fall-through to "no device"); an absent one is None.
`primary_device` picks the strongest source present: a certificate the TLS stack
verified, then a token a managed agent signed, then a cookie the gateway set itself.
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DeviceSource = Literal["mtls", "posture", "cookie"]
DeviceReason = Literal["device-posture-invalid", "device-posture-claims-invalid"]
MAX_DEVICE_ID = 256
_STRENGTH: dict[DeviceSource, int] = {"mtls": 3, "posture": 2, "cookie": 1}


class DeviceError(Exception):
    """A device credential was presented and refused; `detail` is for operators' logs."""

    def __init__(self, reason: DeviceReason, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason: DeviceReason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    source: DeviceSource
    device_id: str
    subject: str | None = None  # certificate subject (RFC 4514) or the token's `sub`
    issuer: str | None = None  # certificate issuer (RFC 4514) or the token's `iss`
    not_after: float | None = None  # certificate end, or the token's `exp`
    managed: bool | None = None  # posture claims, where the agent states them
    compliant: bool | None = None
    os: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)  # every posture claim

    @property
    def key(self) -> str:
        """The id the history store keeps: source-qualified, so sources never collide."""
        return f"{self.source}:{self.device_id}"


def primary_device(*facts: DeviceFacts | None) -> DeviceFacts | None:
    """The strongest of the devices found, or None when there is none."""
    present = [f for f in facts if f is not None]
    return max(present, key=lambda f: _STRENGTH[f.source], default=None)
