"""`authgate grant`, `authgate revoke`, `authgate grants`: operators' privileged access.

Contract: each command reads the config (`-c FILE`) only for where the running
gateway's admin listener is (`server.admin_listen`) and its state folder (the admin
API's token, `access-admin.token`), and calls the grants API there
(`authgate.ops.access_admin`) — so an operator's change goes through the gateway's
own rules, records, channel and webhook, on the memory store as on Redis. The
operator's name (`--operator`, default the login name) is the actor in the records.

    authgate grants -c FILE [--json] [--limit N]
    authgate grant  -c FILE --subject SUB [--user NAME] [--provider ID] --entitlement E
                    --duration 30m --reason TEXT [--ticket T] [--route ID]
    authgate grant  -c FILE --approve GRANT_ID            # approve a pending request
    authgate revoke -c FILE GRANT_ID [--note TEXT]

Exit codes: 0 done, 1 refused by the rules (the reason is printed), 2 unusable
arguments, config, or an unreachable gateway.
"""

from __future__ import annotations

import argparse
import getpass
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from authgate.access.model import moment
from authgate.config.errors import ConfigError
from authgate.config.loader import load_config

TOKEN_FILE = "access-admin.token"  # in the state folder; the admin API reads it too
TIMEOUT = 10.0


class CliError(Exception):
    """Printed as `authgate: ...`, exit code 2."""


def add_arguments(sub: Any) -> None:
    listing = sub.add_parser("grants", help="list privileged-access grants and requests")
    listing.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    listing.add_argument("--json", action="store_true", help="print the API's JSON")
    listing.add_argument("--limit", type=int, default=200, help="newest first, at most this many")
    grant = sub.add_parser("grant", help="grant an entitlement now, or approve a request")
    grant.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    grant.add_argument("--approve", metavar="GRANT_ID", help="approve this pending request")
    grant.add_argument("--subject", help="the user's subject (the provider's sub)")
    grant.add_argument("--user", help="the user's name, for records and pages (default: the subject)")
    grant.add_argument("--provider", help="provider id (default: the first configured)")
    grant.add_argument("--entitlement", help="the entitlement to grant")
    grant.add_argument("--duration", help="how long, e.g. 30m (default: the entitlement's)")
    grant.add_argument("--reason", default="", help="why (recorded, announced)")
    grant.add_argument("--ticket", default="", help="a ticket reference")
    grant.add_argument("--route", help="only on this route id (default: every route asking)")
    grant.add_argument("--operator", default=None, help="who is granting (default: your login name)")
    revoke = sub.add_parser("revoke", help="end a grant or a pending request at once")
    revoke.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    revoke.add_argument("grant_id", help="the grant's id (g-...)")
    revoke.add_argument("--note", default="", help="why (recorded)")
    revoke.add_argument("--operator", default=None, help="who is revoking (default: your login name)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        return _run(args, out)
    except CliError as error:
        print(f"authgate: {error}", file=out)
        return 2


def _run(args: argparse.Namespace, out: TextIO) -> int:
    api = _Api.from_config(args.config)
    operator = getattr(args, "operator", None) or getpass.getuser()
    if args.command == "grants":
        status, body = api.call("GET", f"/access/grants?limit={args.limit}")
        return _print_list(status, body, out, as_json=args.json)
    if args.command == "revoke":
        path = f"/access/grants/{args.grant_id}/revoke"
        return _print_change(*api.call("POST", path, {"operator": operator, "note": args.note}), out)
    if args.approve:
        return _print_change(*api.call("POST", "/access/grants", {"operator": operator, "approve": args.approve}), out)
    if not args.subject or not args.entitlement:
        raise CliError("grant needs --subject and --entitlement (or --approve GRANT_ID)")
    body = {
        "operator": operator, "provider": args.provider or api.provider, "subject": args.subject,
        "user": args.user or args.subject, "entitlement": args.entitlement, "duration": args.duration,
        "reason": args.reason, "ticket": args.ticket, "route": args.route,
    }  # fmt: skip
    return _print_change(*api.call("POST", "/access/grants", body), out)


class _Api:
    def __init__(self, base: str, token: str, provider: str) -> None:
        self.base, self.token, self.provider = base, token, provider

    @classmethod
    def from_config(cls, path: str) -> _Api:
        try:
            config = load_config(path, None)
        except ConfigError as error:
            raise CliError(f"{path}: {error}") from None
        listen = config.server.admin_listen
        if listen is None:
            raise CliError(f"{path}: give server.admin_listen: the grants API lives on the admin listener")
        host, _, port = listen.rpartition(":")
        host = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host
        token_path = Path(config.server.state_dir) / TOKEN_FILE
        try:
            token = token_path.read_text().strip()
        except OSError as error:
            raise CliError(f"cannot read the admin token {token_path}: {error.strerror or error}") from None
        provider = config.providers[0].id if config.providers else ""
        return cls(f"http://{host}:{port}", token, provider)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {"error": f"http-{error.code}", "message": error.reason}
        except OSError as error:
            raise CliError(f"cannot reach the gateway's admin listener at {self.base}: {error}") from None


def _print_change(status: int, body: dict[str, Any], out: TextIO) -> int:
    if status in (200, 201):
        grant = body["grant"]
        until = grant.get("expires_at")
        print(f"{grant['id']} {grant['entitlement']} {grant['user']}: {grant['status']}"
              + (f" until {moment(until)}" if until and grant["status"] == "active" else ""), file=out)  # fmt: skip
        return 0
    print(f"refused: {body.get('error')}: {body.get('message')}", file=out)
    return 1 if status in (404, 409) else 2


def _print_list(status: int, body: dict[str, Any], out: TextIO, *, as_json: bool) -> int:
    if status != 200:
        print(f"refused: {body.get('error')}: {body.get('message')}", file=out)
        return 2
    if as_json:
        print(json.dumps(body, indent=2), file=out)
        return 0
    print(f"{'GRANT':<27} {'ENTITLEMENT':<16} {'USER':<20} {'STATUS':<10} {'UNTIL':<24} REASON", file=out)
    for g in body["grants"]:
        until = moment(g["expires_at"]) if g.get("expires_at") else "-"
        glass = " [break-glass]" if g.get("break_glass") else ""
        print(f"{g['id']:<27} {g['entitlement']:<16} {g['user']:<20} {g['status']:<10} {until:<24} {g['reason']}{glass}", file=out)
    return 0
