"""`authgate audit verify FILE...`: check a chained decision log from the command line.

Contract: `add_audit_arguments(parser)` declares the subcommands; `run_audit(args, out)`
prints the verdict and returns the exit code: 0 when the log is whole, 1 when it is
broken (the first problem is printed as `FILE:LINE: what (stream S)`), 2 when the
keys or files cannot be read. The keys come from `--keys` (the published
`<key file>.jwks.json`, or the PEM bundle), else from `-c CONFIG`: the chained sink's
`chain.signing_keys`, else `<server.state_dir>/audit-signing-keys.pem.jwks.json`.
`--json` prints the verdict as one JSON object instead of text.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TextIO

from authgate.config.errors import ConfigError
from authgate.decisionlog.audit_verify import Verdict, load_jwks, verify_logs
from authgate.ops.state_dir import AUDIT_KEY_FILE


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    verify = actions.add_parser("verify", help="prove a chained decision log whole")
    verify.add_argument("files", nargs="+", type=Path, help="log files, oldest first")
    verify.add_argument("--keys", type=Path, help="JWKS file (or the PEM key bundle)")
    verify.add_argument("-c", "--config", help="the gateway's config: find the keys there")
    verify.add_argument(
        "--live", action="store_true",
        help="the gateway is still writing: a stream without its final checkpoint is not "
        "a failure (its unsigned tail is reported)",
    )
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")


def _keys_path(args: argparse.Namespace) -> Path:
    if args.keys is not None:
        return Path(args.keys)
    if args.config is None:
        raise ValueError("give --keys FILE or -c CONFIG")
    from authgate.config.loader import load_config

    config = load_config(args.config)
    for entry in config.decision_log.sinks:
        if not isinstance(entry, str) and entry.chain is not None:
            key_file = entry.chain.signing_keys or str(Path(config.server.state_dir) / AUDIT_KEY_FILE)
            public = Path(key_file + ".jwks.json")
            return public if public.exists() else Path(key_file)
    raise ValueError(f"{args.config}: no decision_log sink has chain: set")


def run_audit(args: argparse.Namespace, out: TextIO) -> int:
    try:
        jwks = load_jwks(_keys_path(args))
        verdict = verify_logs(args.files, jwks, live=args.live)
    except (OSError, ValueError, ConfigError) as error:
        print(f"authgate audit: {error}", file=out)
        return 2
    _print(verdict, out, as_json=args.json)
    return 0 if verdict.ok else 1


def _print(verdict: Verdict, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(verdict), sort_keys=True), file=out)
        return
    counts = (f"{verdict.records} records, {verdict.checkpoints} checkpoints, "
              f"{verdict.streams} streams")
    if verdict.ok:
        print(f"OK: {counts}", file=out)
        for stream, unsigned in sorted(verdict.unsigned_tails.items()):
            print(f"note: stream {stream}: {unsigned} lines after its last checkpoint "
                  "are not signed yet", file=out)
    else:
        print(f"BROKEN: {verdict.problem}", file=out)
        print(f"(verified before it: {counts})", file=out)
