"""`authgate report --log FILE... [--from] [--to] [--user] [--route] --format F`.

Contract: `add_report_arguments(parser)` declares the options; `run_report(args, out)`
reads the log files line by line (rotated and current, in any order: the report
counts, it does not order), builds the `AccessReport` and writes it to `--output`
(or `out`). Exit code 0, or 2 when a file cannot be read or an option is unusable.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from authgate.reports.access import AccessReport, Window, parse_time
from authgate.reports.render import FORMATS, render


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", nargs="+", type=Path, required=True, help="decision log files")
    parser.add_argument("--from", dest="start", help="from this time (RFC 3339 or a date), inclusive")
    parser.add_argument("--to", dest="end", help="until this time, exclusive")
    parser.add_argument("--user", help="only this user")
    parser.add_argument("--route", help="only this route id")
    parser.add_argument("--format", choices=FORMATS, default="html")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


def _lines(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    yield line


def run_report(args: argparse.Namespace, out: TextIO) -> int:
    try:
        window = Window(
            start=parse_time(args.start) if args.start else None,
            end=parse_time(args.end) if args.end else None,
            user=args.user, route=args.route,
        )
        text = render(AccessReport.from_lines(_lines(args.log), window), args.format)
        if args.output is not None:
            args.output.write_text(text, encoding="utf-8")
        else:
            out.write(text)
    except (OSError, ValueError) as error:
        print(f"authgate report: {error}", file=out)
        return 2
    return 0
