"""`providers[].signals`: defaults, every mistake with its file, line and key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from authgate.config.schema import GatewayConfig
from authgate.config.schema_signals import SignalsConfig
from tests.config.test_loader import problems

PROVIDER = {"id": "corp", "issuer": "https://idp.example.com", "client_id": "gateway"}


def signals(**block: object) -> SignalsConfig:
    config = GatewayConfig.model_validate(
        {"providers": [{**PROVIDER, "signals": block}], "routes": []}
    )
    found = config.providers[0].signals
    assert found is not None
    return found


def test_defaults() -> None:
    block = signals(transmitter="https://tx.example.com")
    assert (block.delivery, block.audience, block.push_token, block.require_typ) == ("push", None, None, True)
    assert (block.poll_interval, block.max_age, block.leeway) == (30.0, 3600.0, 60.0)
    assert block.algorithms == ["RS256", "PS256", "ES256", "EdDSA"]


@pytest.mark.parametrize(
    ("transmitter", "configuration_url", "expected"),
    [
        ("https://tx.example.com", None, "https://tx.example.com/.well-known/ssf-configuration"),
        ("https://tx.example.com/", None, "https://tx.example.com/.well-known/ssf-configuration"),
        ("https://tx.example.com:8443/t/acme", None, "https://tx.example.com:8443/.well-known/ssf-configuration/t/acme"),
        ("https://accounts.google.com/", "https://accounts.google.com/.well-known/risc-configuration",
         "https://accounts.google.com/.well-known/risc-configuration"),
    ],
)  # fmt: skip
def test_metadata_url_is_ssf_7_2s_well_known_path(
    transmitter: str, configuration_url: str | None, expected: str
) -> None:
    assert signals(transmitter=transmitter, configuration_url=configuration_url).metadata_url == expected


@pytest.mark.parametrize(
    "block",
    [
        {"delivery": "poll"},  # no poll_url
        {"poll_url": "https://tx.example.com/poll"},  # poll settings on a push stream
        {"delivery": "poll", "poll_url": "https://tx.example.com/poll", "push_token": "x" * 40},
        {"algorithms": ["none"]},
        {"algorithms": []},
        {"max_age": 0},
        {"poll_max_events": 0},
        {"audience": ""},
        {"push_token": "too-short"},
        {"transmiter": "typo"},
    ],
)
def test_bad_settings_are_errors(block: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        signals(**{"transmitter": "https://tx.example.com", **block})


def test_mistakes_name_file_line_and_key() -> None:
    assert problems("signals_mistakes.yaml") == [
        "F:9 providers[0].signals.delivery: must be 'push' or 'poll', got 'pull'",
        "F:10 providers[0].signals.poll_interval: not a duration: 'often' (write e.g. 250ms, 30s, 5m, 8h, 7d)",
        "F:11 providers[0].signals.push_token: must be at least 32 characters",
        "F:12 providers[0].signals.algorithms: not allowed: ['HS256'] (allowed: "
        "['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'])",
        "F:16 providers[1].signals: delivery: poll needs poll_url (the stream's delivery endpoint_url)",
    ]
