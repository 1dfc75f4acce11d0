"""The `websocket:` block of a route and `limits.websockets`: defaults and checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from authgate.config.schema import GatewayConfig

ROUTE = {"id": "chat", "match": {"host": "chat.example"}, "upstream": "http://127.0.0.1:9000"}


def config(websocket: dict[str, object] | None = None, **top: object) -> GatewayConfig:
    route = {**ROUTE, **({"websocket": websocket} if websocket is not None else {})}
    return GatewayConfig.model_validate({"routes": [route], **top})


def test_defaults_guard_every_route() -> None:
    loaded = config()
    websocket = loaded.routes[0].websocket
    assert (websocket.origins, websocket.allow_missing_origin) == ([], False)
    assert (websocket.max_message, websocket.max_connections) == (1024 * 1024, 1000)
    limits = loaded.limits.websockets
    assert (limits.max_per_user, limits.max_per_client_ip) == (32, 256)


def test_origins_are_normalized() -> None:
    origins = ["HTTPS://Portal.Example:443", "http://[0::1]:3000"]
    assert config({"origins": origins}).routes[0].websocket.origins == [
        "https://portal.example",
        "http://[::1]:3000",
    ]


@pytest.mark.parametrize(
    "websocket",
    [
        {"origins": ["*"]},
        {"origins": ["https://*.example.com"]},
        {"origins": ["null"]},
        {"origins": ["https://portal.example/"]},
        {"max_message": 0},
        {"max_connections": 0},
        {"origin": ["https://portal.example"]},  # a typo is an error, not a no-op
    ],
)
def test_bad_settings_are_errors(websocket: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        config(websocket)


def test_caps_can_be_turned_off() -> None:
    loaded = config({"max_connections": None}, limits={"websockets": {"max_per_user": None}})
    assert loaded.routes[0].websocket.max_connections is None
    assert loaded.limits.websockets.max_per_user is None
