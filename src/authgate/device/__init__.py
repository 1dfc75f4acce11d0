"""Device identity: who the machine is, from three independent sources.

Modules:
- `facts` — `DeviceFacts` (the frozen answer), `DeviceError`, `primary_device`; pure;
- `cert` — mTLS: facts from the client certificate, and the listener's SSL context;
- `posture` — a device-posture JWT from an MDM or endpoint agent, checked against
  its issuer's JWKS;
- `known_device` — the long-lived signed known-device cookie.
This file imports nothing, so `authgate.device.facts` stays free of I/O libraries.
"""
