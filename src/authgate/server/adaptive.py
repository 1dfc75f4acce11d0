"""The adaptive stage: geo, device and risk facts for one request (the I/O half).

Contract: `gather_context(wire, facts, identity, route, runtime, auth)` looks up the client's
country (GeoIP), the device (mTLS certificate, posture token, known-device cookie)
and — for routes with an `adaptive:` block and a known user — the user's history,
and returns the pure `decide.Context` plus the `Assessment` (signals and score) for
the decision record. `record_allowed` updates the history, and only for requests that
were allowed (an attacker's refused attempts must not teach the store "normal").
The client IP is the one `authgate.client_ip` derived, so a spoofed X-Forwarded-For
from an untrusted peer changes neither the geo nor the risk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from authgate.decide import NO_CONTEXT, Context
from authgate.device.cert import device_from_ssl_object
from authgate.device.facts import DeviceError, DeviceFacts, primary_device
from authgate.facts import RequestFacts
from authgate.geo.facts import GeoFacts
from authgate.identity import Identity
from authgate.risk.assess import Assessment, assess
from authgate.risk.history import user_key, worth_recording
from authgate.risk.model import History, Location
from authgate.routing import Route
from authgate.server.auth_state import AuthRuntime
from authgate.server.state import ServerRuntime
from authgate.sessions.model import Session
from authgate.sessions.store import StoreUnavailable
from authgate.wire import Wire

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Adaptive:
    context: Context
    geo: GeoFacts | None
    device: DeviceFacts | None
    assessment: Assessment | None
    history_key: str | None
    history: History | None


NOTHING = Adaptive(NO_CONTEXT, None, None, None, None, None)


async def gather_context(
    wire: Wire,
    facts: RequestFacts,
    identity: Identity | None,
    route: Route | None,
    runtime: ServerRuntime,
    auth: AuthRuntime,
) -> Adaptive:
    geo = auth.geo.lookup(facts.client_ip) if auth.geo is not None else None
    device = await _device(wire, auth, facts.time)
    rules = runtime.risk_rules.get(route.id) if route is not None else None
    assessment, key, history = None, None, None
    if rules is not None and identity is not None and auth.history is not None:
        key = user_key(identity.provider, identity.subject)
        history = await _history(auth, key, identity, facts.time, facts.client_ip)
        device_id = device.key if device is not None else None
        assessment = assess(facts.time, geo, device_id, history, rules, client_ip=facts.client_ip)
    context = Context(
        country=geo.country if geo is not None else None,
        device=_device_view(device),
        risk=float(assessment.score) if assessment is not None else None,
        risk_outcome=assessment.outcome if assessment is not None else "allow",
    )
    return Adaptive(context, geo, device, assessment, key, history)


async def _device(wire: Wire, auth: AuthRuntime, now: float) -> DeviceFacts | None:
    mtls = device_from_ssl_object(wire.ssl_object)
    posture = None
    if auth.posture is not None:
        try:
            posture = await auth.posture.device(wire.headers, wire.cookies(), now)
        except DeviceError as error:
            # A present but bad posture token is no device at all, and is logged.
            log.info("device posture token refused: %s", error.reason)
    cookie = None
    if auth.known_devices is not None:
        value = wire.cookie(auth.known_devices.name)
        known = auth.known_devices.verify(value, now) if value else None
        cookie = known.facts if known is not None else None
    return primary_device(mtls, posture, cookie)


async def _history(
    auth: AuthRuntime, key: str, identity: Identity, now: float, client_ip: str
) -> History:
    assert auth.history is not None
    try:
        return await auth.history.get(key, now, session_id=identity.session_id, client_ip=client_ip)
    except StoreUnavailable:
        log.warning("risk history unavailable: scoring without history")
        return History()


def _device_view(device: DeviceFacts | None) -> dict[str, object] | None:
    """What the `device` policy criterion sees."""
    if device is None:
        return None
    view: dict[str, object] = dict(device.claims)
    view.update(source=device.source, id=device.device_id)
    for name in ("managed", "compliant", "os", "subject", "issuer"):
        value = getattr(device, name)
        if value is not None:
            view[name] = value
    return view


async def record_allowed(auth: AuthRuntime, adaptive: Adaptive, now: float) -> None:
    key, history = adaptive.history_key, adaptive.history
    if auth.history is None or key is None or history is None:
        return
    location = Location.from_geo(adaptive.geo, now) if adaptive.geo is not None else None
    device_id = adaptive.device.key if adaptive.device is not None else None
    if not worth_recording(history, location, device_id, now):
        return  # unchanged facts are written at most every few minutes
    try:
        await auth.history.record_allowed(key, location, device_id, now)
    except StoreUnavailable:
        log.warning("risk history unavailable: this request is not remembered")


async def acknowledge_step_up(
    wire: Wire,
    facts: RequestFacts,
    session: Session,
    route: Route,
    runtime: ServerRuntime,
    auth: AuthRuntime,
) -> None:
    """A successful step-up clears the signals that asked for it, for this session
    (until it ends): the user proved it is them from this device, network and place."""
    adaptive = await gather_context(wire, facts, session.identity, route, runtime, auth)
    if auth.history is None or adaptive.assessment is None or adaptive.history_key is None:
        return
    try:
        await auth.history.acknowledge(
            adaptive.history_key, session.id, adaptive.assessment.signals, facts.time, session.expires_at
        )
        await record_allowed(auth, adaptive, facts.time)
    except StoreUnavailable:
        log.warning("risk history unavailable: the step-up is not remembered")
