"""Every path option resolves against the config file's directory, never the cwd.

The table names every `ConfigPath` field of the schema (a test below fails when a new
one is added without a row), sets it to a relative value in a config file under
`conf/`, loads that file from another working directory and checks where it points.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from authgate.config.loader import load_config
from authgate.config.paths import ConfigPath
from authgate.config.schema import DEFAULT_STATE_DIR, GatewayConfig

ROUTE = {"id": "web", "match": {"host": "www.example.com"}, "upstream": "http://10.0.0.1:8000"}
SECRETS = {"cookie_secret": "paths-test-cookie-secret-0123456789abcdef"}
REL = "sub/../sub/thing"

Row = tuple[dict[str, Any], Callable[[GatewayConfig], object]]
TABLE: dict[str, Row] = {
    "server.state_dir": ({"server": {"state_dir": REL}}, lambda c: c.server.state_dir),
    "server.templates_dir": ({"server": {"templates_dir": REL}}, lambda c: c.server.templates_dir),
    "pages.logo": ({"pages": {"logo": REL}}, lambda c: c.pages.logo),
    "server.tls.cert": (
        {"server": {"tls": {"cert": REL, "key": "/abs/key"}}},
        lambda c: c.server.tls and c.server.tls.cert,
    ),
    "server.tls.key": (
        {"server": {"tls": {"cert": "/abs/cert", "key": REL}}},
        lambda c: c.server.tls and c.server.tls.key,
    ),
    "secrets.assertion_keys": (
        {"secrets": {**SECRETS, "assertion_keys": REL}},
        lambda c: c.secrets and c.secrets.assertion_keys,
    ),
    **{
        f"geoip.{slot}": ({"geoip": {slot: REL}}, lambda c, s=slot: getattr(c.geoip, s))
        for slot in ("city", "country", "asn", "anonymous_ip")
    },
    "devices.mtls.client_ca": (
        {"devices": {"mtls": {"client_ca": REL}}},
        lambda c: c.devices.mtls and c.devices.mtls.client_ca,
    ),
    "decision_log.sinks.file": (
        {"decision_log": {"sinks": [{"file": REL}]}},
        lambda c: getattr(c.decision_log.sinks[0], "file", None),
    ),
    "decision_log.sinks.chain.signing_keys": (
        {"decision_log": {"sinks": [{"file": "/abs/log", "chain": {"signing_keys": REL}}]}},
        lambda c: getattr(getattr(c.decision_log.sinks[0], "chain", None), "signing_keys", None),
    ),
}


def _is_config_path(annotation: object) -> bool:
    if annotation == ConfigPath:
        return True
    return any(_is_config_path(arg) for arg in typing.get_args(annotation))


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def path_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key path of the schema whose value is a `ConfigPath`."""
    found: set[str] = set()
    hints = typing.get_type_hints(model, include_extras=True)
    for name, field in model.model_fields.items():
        if _is_config_path(hints[name]):
            found.add(prefix + name)
        for inner in _models_in(field.annotation):
            found |= path_fields(inner, f"{prefix}{name}.")
    return found


def write(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "authgate.yaml"
    path.write_text(yaml.safe_dump({**config, "routes": [ROUTE]}), encoding="utf-8")
    return path


def test_the_table_names_every_path_option() -> None:
    assert path_fields(GatewayConfig) == set(TABLE)


@pytest.mark.parametrize("key", sorted(TABLE))
def test_relative_path_is_taken_from_the_config_folder(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, read = TABLE[key]
    write(tmp_path / "conf", config)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # The config named relatively, from another folder: still its own folder.
    loaded = load_config("../conf/authgate.yaml", {})
    assert read(loaded) == str(elsewhere / ".." / "conf" / REL)


@pytest.mark.parametrize("key", sorted(TABLE))
def test_absolute_path_is_kept(key: str, tmp_path: Path) -> None:
    config, read = TABLE[key]
    absolute = str(tmp_path / "abs" / "thing")
    text = yaml.safe_dump(config).replace(REL, absolute)
    loaded = load_config(write(tmp_path / "conf", yaml.safe_load(text)), {})
    assert read(loaded) == absolute


@pytest.mark.parametrize("key", sorted(TABLE))
def test_empty_path_is_a_problem_on_its_line(key: str, tmp_path: Path) -> None:
    config, _ = TABLE[key]
    text = yaml.safe_dump(config).replace(REL, "''")
    path = write(tmp_path, yaml.safe_load(text))
    with pytest.raises(Exception) as caught:
        load_config(path, {})
    assert "an empty path" in str(caught.value)
    shown = key.replace("sinks.", "sinks[0].")
    assert f" {shown}: an empty path" in str(caught.value)


def test_secret_files_follow_the_same_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf" / "sub").mkdir(parents=True)
    (tmp_path / "conf" / "sub" / "secret").write_text("s3cret-from-a-file\n", encoding="utf-8")
    provider = {"id": "corp", "issuer": "https://login.example.com", "client_id": "gw",
                "client_secret_file": "sub/secret"}  # fmt: skip
    write(tmp_path / "conf", {"providers": [provider]})
    monkeypatch.chdir(tmp_path)
    assert load_config("conf/authgate.yaml", {}).providers[0].client_secret == "s3cret-from-a-file"


def test_state_dir_default_and_assertion_keys_default() -> None:
    config = GatewayConfig.model_validate({"secrets": SECRETS, "routes": [ROUTE]})
    assert config.server.state_dir == DEFAULT_STATE_DIR == "/var/lib/authgate"
    assert config.secrets is not None and config.secrets.assertion_keys is None
