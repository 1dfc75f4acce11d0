"""Route pattern checks in the schema: caught at validation, with the key that is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema import GatewayConfig


def _config(match: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    route: dict[str, Any] = {
        "id": "r",
        "match": {"host": "app.example.com", **(match or {})},
        "upstream": "http://10.0.0.1:8000",
    }
    route.update(fields)
    return {"routes": [route]}


def _error(data: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        GatewayConfig.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["loc"], errors[0]["msg"]


BAD = [
    # (route fields, expected loc after routes.0, a fragment of the message)
    ({"match": {"path_regex": "("}}, ("match", "path_regex"), "not a regex"),
    ({"match": {"path_regex": "[a-"}}, ("match", "path_regex"), "not a regex"),
    ({"match": {"path_regex": ""}}, ("match", "path_regex"), "empty regex"),
    ({"match": {"path_prefix": "api"}}, ("match", "path_prefix"), "start with '/'"),
    ({"match": {"path_prefix": ""}}, ("match", "path_prefix"), "start with '/'"),
    ({"match": {"path_glob": "static/**"}}, ("match", "path_glob"), "start with '/'"),
    ({"match": {"path_glob": "**/x"}}, ("match", "path_glob"), "start with '/'"),
    ({"public": ["/ok", "healthz"]}, ("public", 1), "start with '/'"),
    ({"match": {"host": "app.example.com:8080"}}, ("match", "host"), "no port"),
    ({"match": {"host": "[::1]:80"}}, ("match", "host"), "no port"),
    ({"match": {"host": "*"}}, ("match", "host"), "'*' only as"),
    ({"match": {"host": "*example.com"}}, ("match", "host"), "'*' only as"),
    ({"match": {"host": "a.*.example.com"}}, ("match", "host"), "'*' only as"),
    ({"match": {"host": "a..example.com"}}, ("match", "host"), "empty label"),
    ({"match": {"host": ".example.com"}}, ("match", "host"), "empty label"),
    ({"match": {"host": ""}}, ("match", "host"), "not a host pattern"),
    ({"match": {"host": "exam_ple.com"}}, ("match", "host"), "not a host pattern"),
    ({"match": {"host": "café.example"}}, ("match", "host"), "not a host pattern"),
    ({"match": {"host": "\u212aey.example.com"}}, ("match", "host"), "not a host pattern"),
    ({"match": {"host": "a" * 64 + ".com"}}, ("match", "host"), "not a host pattern"),
    ({"match": {"host": ["ok.example.com", "bad:1"]}}, ("match", "host"), "'bad:1'"),
    ({"match": {"host": []}}, ("match", "host"), "at least one host"),
    ({"match": {"methods": []}}, ("match", "methods"), "leave methods out"),
    ({"upstream": "http://10.0.0.1/?x=1"}, ("upstream",), "no query"),
    ({"upstream": "http://10.0.0.1/#f"}, ("upstream",), "no query"),
    ({"upstream": "http://user:pw@10.0.0.1/"}, ("upstream",), "no query"),
]


@pytest.mark.parametrize(("fields", "loc", "message"), BAD)
def test_bad_route_patterns(fields: dict[str, Any], loc: tuple[Any, ...], message: str) -> None:
    match = fields.pop("match", None)
    found_loc, found_message = _error(_config(match, **fields))
    assert found_loc == ("routes", 0, *loc)
    assert message in found_message


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("App.Example.COM", "app.example.com"),
        ("app.example.com.", "app.example.com"),
        ("*.Example.com", "*.example.com"),
        ("[::1]", "[::1]"),
        (["A.example.com", "*.B.example.com"], ["a.example.com", "*.b.example.com"]),
    ],
)
def test_host_patterns_are_lowercased(host: str | list[str], expected: str | list[str]) -> None:
    config = GatewayConfig.model_validate(_config({"host": host}))
    assert config.routes[0].match.host == expected


def test_good_patterns_are_kept_as_written() -> None:
    config = GatewayConfig.model_validate(
        _config({"path_glob": "/static/%7e/**"}, public=["/$${x}", "/a/"])
    )
    route = config.routes[0]
    assert route.match.path_glob == "/static/%7e/**"
    assert route.public == ["/$${x}", "/a/"]
