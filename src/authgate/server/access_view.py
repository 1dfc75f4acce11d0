"""The sections of `/.authgate/access`, as HTML built from escaped values.

Contract: pure. `access_sections(view)` renders what one signed-in user may do: the
request form (entitlements they may ask for), the break-glass form (those they may
self-grant), their own grants (withdraw a request, give a grant up), and — for an
approver — the requests waiting for them (approve, deny; never their own, which the
service refuses anyway) and the active grants they may revoke, break-glass ones
marked. Every form is a plain POST to `/.authgate/access` with the session's CSRF
token (the same scheme as sign-out: docs/login.md; CWE-352); no script. Every value
goes through `html.escape(quote=True)`; element ids (`request-submit`,
`approve-<grant id>`, ...) are stable for tests and for operators' own styling.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from authgate.access.model import Grant, GrantState, moment, span
from authgate.config.schema_access import EntitlementConfig

ACTION = "/.authgate/access"


@dataclass(frozen=True, slots=True)
class AccessView:
    csrf_token: str
    now: float
    requestable: Mapping[str, EntitlementConfig]
    break_glass: Mapping[str, EntitlementConfig]
    routes: Sequence[str]  # route ids whose policy names an entitlement (scope choices)
    mine: Sequence[Grant]
    waiting: Sequence[Grant]  # requests this user may decide
    revocable: Sequence[Grant]  # others' active grants this user may revoke
    chosen: str = ""  # prefilled entitlement (back from a step-up)


def _t(value: object) -> str:
    return html.escape(str(value), quote=True)


def access_sections(view: AccessView) -> str:
    parts = [_request_form(view), _break_glass_form(view), _mine(view)]
    if view.waiting or view.revocable:
        parts += [_waiting(view), _revocable(view)]
    return "".join(parts)


def message(text: str, *, error: bool = False) -> str:
    if not text:
        return ""
    kind = "message error" if error else "message"
    return f'<p class="{kind}" id="access-message" role="status">{_t(text)}</p>'


def _form(view: AccessView, action: str, body: str, form_id: str) -> str:
    return (
        f'<form method="post" action="{ACTION}" id="{_t(form_id)}">'
        f'<input type="hidden" name="csrf_token" value="{_t(view.csrf_token)}">'
        f'<input type="hidden" name="action" value="{_t(action)}">{body}</form>'
    )


def _options(names: Iterable[str], chosen: str) -> str:
    return "".join(
        f'<option value="{_t(n)}"{" selected" if n == chosen else ""}>{_t(n)}</option>' for n in names
    )


def _ask_fields(view: AccessView, prefix: str, choices: Mapping[str, EntitlementConfig]) -> str:
    first = choices[view.chosen] if view.chosen in choices else next(iter(choices.values()))
    default = first.default_duration or first.max_duration
    scopes = '<option value="">every route that asks for it</option>' + _options(view.routes, "")
    return (
        f'<label for="{prefix}-entitlement">Entitlement</label>'
        f'<select name="entitlement" id="{prefix}-entitlement">{_options(choices, view.chosen)}</select>'
        f'<label for="{prefix}-duration">For how long (e.g. 30m, 1h; at most '
        f'{_t(", ".join(f"{n} {span(c.max_duration)}" for n, c in choices.items()))})</label>'
        f'<input name="duration" id="{prefix}-duration" value="{_t(span(default))}" required>'
        f'<label for="{prefix}-route">Where</label><select name="route" id="{prefix}-route">{scopes}</select>'
        f'<label for="{prefix}-reason">Reason</label>'
        f'<textarea name="reason" id="{prefix}-reason" maxlength="500"></textarea>'
        f'<label for="{prefix}-ticket">Ticket (optional unless the entitlement asks for one)</label>'
        f'<input name="ticket" id="{prefix}-ticket" maxlength="500">'
    )


def _request_form(view: AccessView) -> str:
    if not view.requestable:
        return "<h2>Request access</h2><p>There is nothing you may request here.</p>"
    body = _ask_fields(view, "request", view.requestable)
    body += '<p><button type="submit" id="request-submit">Request access</button></p>'
    return "<h2>Request access</h2>" + _form(view, "request", body, "request-form")


def _break_glass_form(view: AccessView) -> str:
    if not view.break_glass:
        return ""
    body = _ask_fields(view, "glass", view.break_glass)
    body += '<p><button type="submit" class="danger" id="break-glass-submit">Break glass now</button></p>'
    intro = (
        '<h2 class="glass">Break glass</h2><p>For emergencies: active at once, without an '
        "approver, after a fresh sign-in. The approvers are told immediately.</p>"
    )
    return intro + _form(view, "break-glass", body, "break-glass-form")


def _row(grant: Grant, view: AccessView, *cells: str) -> str:
    glass = ' <span class="glass">break-glass</span>' if grant.break_glass else ""
    state = grant.status_at(view.now).value
    return (
        f'<tr id="grant-{_t(grant.id)}" data-state="{_t(state)}"><td><code>{_t(grant.id)}</code></td>'
        f"<td>{_t(grant.entitlement)}{glass}</td>{''.join(cells)}</tr>"
    )


def _decide_button(view: AccessView, action: str, grant: Grant, label: str, css: str = "") -> str:
    body = (
        f'<input type="hidden" name="grant_id" value="{_t(grant.id)}">'
        f'<button type="submit" class="{css}" id="{_t(action)}-{_t(grant.id)}">{_t(label)}</button>'
    )
    return _form(view, action, body, f"{action}-form-{grant.id}")


def _table(title: str, table_id: str, columns: tuple[str, ...], rows: list[str], empty: str) -> str:
    """A titled table of grants (the first two columns, grant and entitlement, are `_row`'s)."""
    if not rows:
        return f"<h2>{title}</h2><p>{empty}</p>" if empty else ""
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in ("Grant", "Entitlement", *columns, "")) + "</tr>"
    return f'<h2>{title}</h2><table id="{table_id}">{head}{"".join(rows)}</table>'


def _td(value: object) -> str:
    return f"<td>{_t(value)}</td>"


def _mine(view: AccessView) -> str:
    rows = []
    for grant in view.mine:
        state = grant.status_at(view.now)
        action = ""
        if state is GrantState.REQUESTED:
            action = _decide_button(view, "deny", grant, "Withdraw", "quiet")
        elif state is GrantState.ACTIVE:
            action = _decide_button(view, "revoke", grant, "Give up", "quiet")
        cells = (_td(state.value), _td(span(grant.duration)), _td(moment(grant.expires_at)))
        rows.append(_row(grant, view, *cells, f"<td>{action}</td>"))
    empty = "You hold no grants and have no open requests."
    return _table("Your grants", "my-grants", ("State", "For", "Until"), rows, empty)


def _waiting(view: AccessView) -> str:
    rows = [
        _row(
            grant, view, _td(grant.user), _td(span(grant.duration)),
            f"<td>{_t(grant.reason)}{(' — ' + _t(grant.ticket)) if grant.ticket else ''}</td>",
            f"<td>{_decide_button(view, 'approve', grant, 'Approve')}"
            f"{_decide_button(view, 'deny', grant, 'Deny', 'quiet')}</td>",
        )  # fmt: skip
        for grant in view.waiting
    ]
    empty = "No request is waiting for your decision."
    return _table("Requests waiting for you", "waiting", ("Who", "For", "Why"), rows, empty)


def _revocable(view: AccessView) -> str:
    rows = [
        _row(
            grant, view, _td(grant.user), _td(moment(grant.expires_at)), _td(grant.decided_by or ""),
            f"<td>{_decide_button(view, 'revoke', grant, 'Revoke', 'danger')}</td>",
        )  # fmt: skip
        for grant in view.revocable
    ]
    return _table("Active grants", "active-grants", ("Who", "Until", "Approved by"), rows, "")
