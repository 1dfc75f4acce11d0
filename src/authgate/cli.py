"""Command-line interface: `authgate serve`, `authgate check-config`.

Contract: `main(argv)` returns the process exit code; each subcommand lives in its
own module and this file only parses arguments and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authgate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("-c", "--config", required=True, help="path to the YAML config file")
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", help="path to the YAML config file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        from authgate.config.check import check_config

        return check_config(args.config, out=sys.stdout)
    if args.command == "serve":
        from authgate.server.run import serve

        return serve(args.config)
    raise AssertionError(f"unhandled command {args.command}")  # argparse enforces choices
