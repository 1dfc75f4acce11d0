"""Command-line interface: `serve`, `check-config`, `explain`, `assertion-key rotate`,
`audit verify`, `report`, `grant` / `revoke` / `grants` (privileged access).

Contract: `main(argv)` returns the process exit code; each subcommand lives in its
own module and this file only parses arguments and dispatches. `authgate --version`
prints `authgate <version>`, the installed distribution's version (one source: the
`version` in pyproject.toml, read back through importlib.metadata).
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from collections.abc import Sequence

from authgate.decisionlog.audit_cli import add_audit_arguments
from authgate.access.cli import add_arguments as add_access_arguments
from authgate.policy.explain_cli import add_explain_arguments
from authgate.reports.report_cli import add_report_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authgate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"authgate {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    check = sub.add_parser(
        "check-config", help="report everything that would keep serve from starting, and exit"
    )
    check.add_argument("config", help="path to the YAML config file")
    check.add_argument(
        "--config-only",
        action="store_true",
        help="check the file only, not this host's files, folders and ports "
        "(on a machine that will not run it)",
    )
    explain = sub.add_parser("explain", help="would this request be allowed, and by which rule?")
    add_explain_arguments(explain)
    keys = sub.add_parser("assertion-key", help="manage the upstream assertion signing keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    rotate = keys_sub.add_parser("rotate", help="add a new signing key, keep the previous one")
    rotate.add_argument("file", help="the PEM bundle (secrets.assertion_keys)")
    rotate.add_argument("--keep", type=int, default=2, help="keys kept, newest first")
    audit = sub.add_parser("audit", help="verify a tamper-evident (chained) decision log")
    add_audit_arguments(audit)
    report = sub.add_parser("report", help="an access report from decision logs, for auditors")
    add_report_arguments(report)
    add_access_arguments(sub)  # grant, revoke, grants
    return parser


def _version() -> str:
    try:
        return version("authgate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        from authgate.config.check import check_config

        return check_config(args.config, out=sys.stdout, host=not args.config_only)
    if args.command == "serve":
        from authgate.server.run import serve

        return serve(args.config)
    if args.command == "explain":
        from authgate.policy.explain_cli import run_explain

        return run_explain(args, sys.stdout)
    if args.command == "assertion-key":
        from authgate.mutate.assertion import rotate_key_file

        print(f"new signing key {rotate_key_file(args.file, keep=args.keep)} in {args.file}")
        return 0
    if args.command == "audit":
        from authgate.decisionlog.audit_cli import run_audit

        return run_audit(args, sys.stdout)
    if args.command == "report":
        from authgate.reports.report_cli import run_report

        return run_report(args, sys.stdout)
    if args.command in ("grant", "revoke", "grants"):
        from authgate.access.cli import run as run_access

        return run_access(args, sys.stdout)
    raise AssertionError(f"unhandled command {args.command}")  # argparse enforces choices
