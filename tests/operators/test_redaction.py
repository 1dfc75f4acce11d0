"""No token or cookie value reaches an operational log line, traceback included.

The table runs `redact` over every shape a credential takes in exception text; the
end-to-end cases log real exceptions through the gateway's own handler (`ops.logs`),
in both formats, and read back what it wrote.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from authgate.config.schema import GatewayConfig
from authgate.ops.logs import build_handler, update_handler
from authgate.ops.redact import MASK, redact

# A real-looking HS256 JWT (header {"alg":"HS256","typ":"JWT"}); and a session value.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl"
)
SESSION = "Zm9vYmFyYmF6cXV4MTIzNDU2.c2VjcmV0LW1hYy12YWx1ZS0wMTIzNDU2Nzg5"
OPAQUE = "gho_16C7e42F292c6912E7710c838347Ae178B4a"

CASES = {
    "bearer": (f"Authorization check failed for Bearer {OPAQUE}", OPAQUE),
    "bearer-lower": (f"got bearer {OPAQUE} from the client", OPAQUE),
    "basic": ("Basic dXNlcjpwYXNzd29yZA== was sent", "dXNlcjpwYXNzd29yZA=="),
    "dpop": (f"refused DPoP {OPAQUE} from the client", OPAQUE),  # an opaque DPoP-bound token
    "authorization-header": (f"Authorization: token {OPAQUE}", OPAQUE),
    "jwt-bare": (f"invalid signature on {JWT}", JWT),
    "jwe": ("eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVydGV4dA.dGFn here", "Y2lwaGVydGV4dA"),
    "cookie-header": (f"Cookie: authgate={SESSION}; theme=dark", SESSION),
    "set-cookie-header": (f"Set-Cookie: __Host-authgate={SESSION}; Path=/", SESSION),
    "headers-repr": (f"<CIMultiDictProxy('Host': 'a.test', 'Cookie': 'x={SESSION}')>", SESSION),
    "headers-tuple": (f"[('cookie', 'authgate={SESSION}')]", SESSION),
    "cookie-name": (f"bad session authgate={SESSION} dropped", SESSION),
    "login-cookie-name": (f"state in __Host-authgate-login={SESSION}", SESSION),
    "token-response": (f'{{"access_token": "{OPAQUE}", "token_type": "Bearer"}}', OPAQUE),
    "refresh-form": (f"grant_type=refresh_token&refresh_token={OPAQUE}", OPAQUE),
    "code-query": (f"GET /.authgate/callback?code={OPAQUE}&state=abc", OPAQUE),
    "client-secret": (f"client_secret={OPAQUE}", OPAQUE),
}


@pytest.mark.parametrize(("text", "secret"), CASES.values(), ids=CASES.keys())
def test_redact_removes_every_credential_shape(text: str, secret: str) -> None:
    scrubbed = redact(text, ["authgate"])
    assert secret not in scrubbed
    assert MASK in scrubbed


KEPT = [
    "upstream http://app.internal.example:8080 unreachable: ConnectionRefusedError()",
    "config reload (SIGHUP) applied from /etc/authgate/authgate.yaml: changed ['log']",
    "authgate listening on 0.0.0.0:8080 (3 routes)",
    "login failed: token-exchange-failed (request 0123abcd)",
    "store unavailable at logout; the cookie is cleared anyway",
    "worker 1 (pid 4242) exited with code 1; restarting it in 0.5s",
    "DPoP replay check: session store unavailable",
]


@pytest.mark.parametrize("text", KEPT)
def test_redact_keeps_ordinary_lines(text: str) -> None:
    assert redact(text, ["authgate"]) == text


@pytest.fixture(params=["json", "text"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    config = GatewayConfig.model_validate({
        "log": {"format": request.param},
        "sessions": {"cookie_name": "corp_sso"},
        "routes": [],
    })
    stream = io.StringIO()
    handler = build_handler(stream)
    update_handler(handler, config, several=False)
    logger = logging.getLogger("authgate.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


class TokenEndpointError(Exception):
    pass


def exchange(headers: dict[str, str]) -> None:
    try:
        raise ValueError(f"provider said no to {headers}")
    except ValueError as error:
        raise TokenEndpointError(f"refresh failed with Bearer {OPAQUE} and id_token={JWT}") from error


def test_a_logged_exception_carries_no_token(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    headers = {"Authorization": f"Bearer {OPAQUE}", "Cookie": f"corp_sso={SESSION}"}
    try:
        exchange(headers)
    except TokenEndpointError:
        logger.exception("refresh of %s failed", f"corp_sso-login={SESSION}")
    written = stream.getvalue()
    for secret in (OPAQUE, JWT, SESSION, JWT.split(".")[1]):
        assert secret not in written
    assert "Traceback (most recent call last)" in written  # the traceback is still there
    assert "TokenEndpointError" in written and "ValueError" in written  # and its chain
    assert written.count(MASK) >= 5
    if '"level"' in written:
        line = json.loads(written)
        assert line["message"] == f"refresh of corp_sso-login={MASK} failed"
        assert "exc_info" in line


def test_a_logged_stack_carries_no_token(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("token %s seen", JWT, stack_info=True)
    assert JWT not in stream.getvalue()
    assert "Stack (most recent call last)" in stream.getvalue()
