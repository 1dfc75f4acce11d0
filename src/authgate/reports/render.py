"""An `AccessReport` as JSON, CSV or one self-contained HTML file.

Contract: `render(report, fmt)` returns the text. JSON: one object with the window,
totals, denials by reason, decisions per day and one entry per (user, route). CSV:
one row per (user, route) with a header; grants and denials-by-reason packed as
`a;b` and `reason=n;...`; cells that a spreadsheet would run as a formula (leading
`=`, `+`, `-`, `@`, tab, CR) are prefixed with `'` (OWASP CSV injection). HTML: one
file with its CSS and its charts (inline SVG: decisions per day, denials by reason)
and no script or external resource, so it opens anywhere and can be archived as
evidence; every value from the log is HTML-escaped (the log holds client input).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter

from authgate.reports.access import ANONYMOUS, AccessReport, AccessRow, Window, iso_time

FORMATS = ("html", "csv", "json")
_DAY_SERIES = (("allow", "#2e7d32"), ("deny", "#c62828"), ("step_up", "#f9a825"),
               ("login", "#1565c0"), ("rate_limited", "#6a1b9a"), ("error", "#424242"))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(report: AccessReport, fmt: str) -> str:
    if fmt == "json":
        return _json(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def _window(window: Window) -> dict[str, object]:
    return {
        "from": iso_time(window.start) if window.start is not None else None,
        "to": iso_time(window.end) if window.end is not None else None,
        "user": window.user, "route": window.route,
    }


def _json(report: AccessReport) -> str:
    body = {
        "window": _window(report.window),
        "totals": report.totals(),
        "denials_by_reason": dict(report.denials().most_common()),
        "per_day": {day: dict(counts) for day, counts in sorted(report.per_day.items())},
        "rows": [row.as_dict() for row in report.sorted_rows()],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _cell(value: object) -> str:
    text = str(value)
    # A lone "-" (nobody signed in) is no formula; anything longer starting so may be.
    return "'" + text if text.startswith(_FORMULA_START) and text != ANONYMOUS else text


def _csv(report: AccessReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user", "route", "first", "last", "allowed", "denied", "step_ups",
                     "sign_ins", "login_prompts", "rate_limited", "errors", "grants",
                     "denials_by_reason"])
    for row in report.sorted_rows():
        data = row.as_dict()
        writer.writerow([_cell(v) for v in (
            data["user"], data["route"], data["first"], data["last"], row.allowed, row.denied,
            row.step_ups, row.sign_ins, row.login_prompts, row.rate_limited, row.errors, ";".join(sorted(row.grants)),
            ";".join(f"{reason}={n}" for reason, n in sorted(row.denials.items())),
        )])
    return out.getvalue()


def _bars_per_day(per_day: dict[str, Counter[str]]) -> str:
    days = sorted(per_day)
    if not days:
        return "<p>No requests in the window.</p>"
    width, height, gap = 640, 200, 4
    peak = max(sum(counts.values()) for counts in per_day.values()) or 1
    bar = max(4, (width - gap * len(days)) // len(days))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 30}" role="img" '
             'aria-label="decisions per day">']
    for index, day in enumerate(days):
        x, y = index * (bar + gap), float(height)
        for decision, colour in _DAY_SERIES:
            n = per_day[day].get(decision, 0)
            if n:
                h = n * height / peak
                y -= h
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                             f'fill="{colour}"><title>{html.escape(day)} {decision}: {n}</title></rect>')
        parts.append(f'<text x="{x}" y="{height + 20}" font-size="10">{html.escape(day[5:])}</text>')
    parts.append("</svg>")
    legend = " ".join(f'<span class="key" style="background:{c}"></span>{d}' for d, c in _DAY_SERIES)
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def _bars_by_reason(denials: Counter[str]) -> str:
    top = denials.most_common(12)
    if not top:
        return "<p>No denials in the window.</p>"
    peak, row_height = top[0][1], 22
    parts = [f'<svg class="chart" viewBox="0 0 640 {row_height * len(top)}" role="img" '
             'aria-label="denials by reason">']
    for index, (reason, n) in enumerate(top):
        y, w = index * row_height, max(2, n * 400 / peak)
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(reason)}</text>'
                     f'<rect x="220" y="{y + 3}" width="{w:.1f}" height="16" fill="#c62828"/>'
                     f'<text x="{225 + w:.1f}" y="{y + 15}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table_row(row: AccessRow) -> str:
    data = row.as_dict()
    denials = ", ".join(f"{reason} ({n})" for reason, n in sorted(row.denials.items()))
    cells = (data["user"], data["route"], data["first"], data["last"], row.allowed, row.denied,
             row.step_ups, row.rate_limited, ", ".join(sorted(row.grants)), denials)
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


_STYLE = """
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;text-align:left}
th{background:#f3f3f3}.chart{width:100%;max-width:720px;height:auto}
.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}.totals td{font-weight:600}
"""


def _html(report: AccessReport) -> str:
    window = _window(report.window)
    scope = ", ".join(f"{k} {html.escape(str(v))}" for k, v in window.items() if v) or "all records"
    totals = report.totals()
    head = "".join(f"<th>{html.escape(k)}</th>" for k in totals)
    values = "".join(f"<td>{v}</td>" for v in totals.values())
    rows = "".join(_table_row(row) for row in report.sorted_rows())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>authgate access report</title><style>{_STYLE}</style></head><body>
<h1>Access report</h1><p>Scope: {scope}</p>
<h2>Totals</h2><table class="totals"><tr>{head}</tr><tr>{values}</tr></table>
<h2>Decisions per day</h2>{_bars_per_day(report.per_day)}
<h2>Denials by reason</h2>{_bars_by_reason(report.denials())}
<h2>Per user and route</h2>
<table id="access"><tr><th>user</th><th>route</th><th>first access</th><th>last access</th>
<th>allowed</th><th>denied</th><th>step-ups</th><th>rate limited</th><th>grants used</th>
<th>denials by reason</th></tr>{rows}</table>
</body></html>
"""
