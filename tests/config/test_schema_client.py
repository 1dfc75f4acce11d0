"""Provider client settings: client keys, auth methods and opaque tokens, checked at load
with the file, line and key of each problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.config.references import check_references
from authgate.config.schema import GatewayConfig

SECRETS = "secrets: {cookie_secret: [" + "x" * 40 + "]}\n"


def problems(tmp_path: Path, providers: str) -> str:
    (tmp_path / "config.yaml").write_text(SECRETS + "providers:\n" + providers)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "config.yaml", {})
    return str(error.value)


def provider(extra: str) -> str:
    return "  - id: op\n    issuer: https://op.example\n    client_id: gw\n" + extra


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("    token_auth_method: private_key_jwt\n", "providers[0]", "needs client_key"),
        ("    token_auth_method: client_secret_jwt\n    client_secret: short\n", "providers[0]", "at least 32 bytes"),
        ("    client_key: {jwk: {kty: EC, crv: P-256, x: a, y: b, d: c}}\n", "providers[0]", "only used with token_auth_method private_key_jwt"),
        ("    token_auth_method: private_key_jwt\n    client_key: {jwk: {kty: EC, x: a, y: b}}\n", "providers[0].client_key", "a public key"),
        ("    token_auth_method: private_key_jwt\n    client_key: {jwk: {kty: oct, k: abc}}\n", "providers[0].client_key", "kty must be one of"),
        ("    token_auth_method: private_key_jwt\n    client_key: {pem: nonsense}\n", "providers[0].client_key", "not an unencrypted PEM private key"),
        ("    access_tokens: sometimes\n", "providers[0].access_tokens", "'jwt', 'opaque' or 'auto'"),
        ("    par: always\n", "providers[0].par", "'auto', 'required' or 'off'"),
    ],
)
def test_client_settings_problems(tmp_path: Path, extra: str, key: str, message: str) -> None:
    text = problems(tmp_path, provider(extra))
    line = next(line for line in text.splitlines() if f" {key}: " in line)
    assert "config.yaml:" in line and message in line, text


def test_alg_must_fit_the_key(tmp_path: Path) -> None:
    text = problems(tmp_path, provider(
        "    token_auth_method: private_key_jwt\n"
        "    client_key:\n"
        "      jwk_file: " + str(Path(__file__).parents[2] / "config" / "example-client-key.jwk.json") + "\n"
        "      alg: RS256\n"
    ))
    assert "providers[0].client_key" in text and "does not fit a EC key" in text


def test_a_bearer_route_takes_opaque_tokens_from_one_provider_only() -> None:
    def op(name: str, kind: str) -> dict[str, str]:
        return {"id": name, "issuer": f"https://{name}.example", "client_id": "gw", "access_tokens": kind}

    route = {"id": "api", "match": {"host": "api.example"}, "upstream": "http://127.0.0.1:9",
             "authenticate": ["bearer"], "bearer": {"audiences": ["api"]}}
    config = GatewayConfig.model_validate({
        "secrets": {"cookie_secret": ["x" * 40]},
        "providers": [op("a", "opaque"), op("b", "auto"), op("c", "jwt")],
        "routes": [route, {**route, "id": "one", "bearer": {"audiences": ["api"], "providers": ["a", "c"]}}],
    })
    found = [(p.key, p.message) for p in check_references(config)]
    assert [key for key, _ in found] == ["routes[0].bearer"]
    assert "a, b" in found[0][1]
