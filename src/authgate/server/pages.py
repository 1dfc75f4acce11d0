"""The gateway's own HTML pages: error, denied, provider chooser, sign out, signed out,
and "the sign-in service cannot be reached".

Contract: `PageRenderer(templates_dir)` loads every page once, at start. A file in the
operator's `templates_dir` replaces the packaged `authgate/templates/` file of the
same name, page by page. Loading fails with `TemplateError` naming the file when a
template cannot be read, is not valid `string.Template` text, lacks a required
placeholder, or uses one the page does not provide; an unknown `*.html` in the
operator's folder (a typo such as `denid.html`) is refused the same way. After that,
rendering cannot fail on a template.

Every value put into a page is HTML-escaped (`html.escape(quote=True)`) in one
place, `_text`; lists are built here from escaped values. Links must be a path on
this host (`/x`, never `//x`) or `http(s)://`: anything else (`javascript:`,
`data:`) raises `ValueError` at render, never reaches the page (CWE-79). Pages carry
no JavaScript and load no external resources, and `content_security_policy` says so to
the browser: nothing loads or runs but the pages' own `<style>` blocks, named by their
SHA-256 (CSP Level 3 §8.2), so an injected `<script>` or `<style>` would stay inert even
if escaping ever failed. A template with a `<script>` element, or with a `$` inside a
`<style>` block (it would change the hashed text), is refused at load; inline `style=`
attributes and `on*=` handlers are not run by the browser under that policy.
No I/O after construction, no aiohttp.

Placeholders per page — an override may leave out the optional ones (an operator
may not want to show the route id), never the required ones:

| file | required | optional |
|---|---|---|
| error.html | $title $message $request_id | $status $reason $start_over |
| denied.html | $reasons $request_id | $codes $route $user $actions |
| chooser.html | $providers $request_id | |
| logged_out.html | $request_id | |
| sign_in_unavailable.html | $title $message $retry_url $request_id | $provider $status $reason |
| logout_confirm.html | $csrf_token $request_id | $user |
| access.html | $sections $request_id | $user $message |

Every page may also use `$brand_style` (in `<head>`: the operator's accent colour, a
whole `<style>` element hashed into the CSP) and `$brand` (the logo and product name
header), both empty without `pages:` (`server/branding.py`).

`logout_confirm.html` must keep its plain `<form method="post">` posting
`csrf_token` to `/.authgate/logout`: logging out is that POST (docs/login.md).

`$reasons` is a run of `<li>` items; `$providers` a run of `<li><a>` items (the
"Create account" ones, `prompt=create`, after the sign-in ones). `$actions` is the
denied page's sign-out form (a POST with the session's CSRF token, button
`denied-sign-out`) and "switch account" link (`switch-account`), empty when nobody is
signed in; `$start_over` the error page's `start-over` link.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from authgate.server.branding import NO_BRANDING, Branding


class TemplateError(Exception):
    """A page template that cannot be used; the message starts with its file."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Page:
    required: frozenset[str]
    optional: frozenset[str] = frozenset()


_BRAND = frozenset({"brand_style", "brand"})
PAGES: Mapping[str, _Page] = {
    "error.html": _Page(
        frozenset({"title", "message", "request_id"}),
        frozenset({"status", "reason", "start_over"}) | _BRAND,
    ),
    "denied.html": _Page(
        frozenset({"reasons", "request_id"}), frozenset({"codes", "route", "user", "actions"}) | _BRAND
    ),
    "chooser.html": _Page(frozenset({"providers", "request_id"}), _BRAND),
    "logged_out.html": _Page(frozenset({"request_id"}), _BRAND),
    "sign_in_unavailable.html": _Page(
        frozenset({"title", "message", "retry_url", "request_id"}),
        frozenset({"provider", "status", "reason"}) | _BRAND,
    ),
    "logout_confirm.html": _Page(frozenset({"csrf_token", "request_id"}), frozenset({"user"}) | _BRAND),
    "access.html": _Page(frozenset({"sections", "request_id"}), frozenset({"user", "message"}) | _BRAND),
}

ERROR_TITLES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The gateway could not accept this request."),
    401: ("Sign-in required", "You need to sign in to see this page."),
    403: ("Access denied", "You are signed in, but this page is not open to you."),
    404: ("Not found", "There is no application at this address."),
    405: ("Method not allowed", "This application does not accept that kind of request here."),
    408: ("Request timeout", "The request did not arrive in time."),
    413: ("Request too large", "The request's body is larger than this application accepts."),
    414: ("Address too long", "The address is longer than the gateway accepts."),
    431: ("Headers too large", "The request's headers are larger than the gateway accepts."),
    429: ("Too many requests", "Please slow down and try again shortly."),
    500: ("Gateway error", "Something went wrong in the gateway."),
    502: ("Application unreachable", "The application behind this address is not answering."),
    503: ("Service unavailable", "The application is busy; please try again shortly."),
    504: ("Application timed out", "The application behind this address took too long to answer."),
    501: ("Not implemented", "The gateway does not support this kind of request."),
    505: ("HTTP version not supported", "The gateway speaks HTTP/1.0 and HTTP/1.1 on this port."),
}
_UNKNOWN_ERROR = ("Error", "The request could not be completed.")
# The provider, not the application, failed during a sign-in (`provider-unreachable`
# -> 502, `provider-timeout` -> 504): the page names it, so nobody reports the app down.
SIGN_IN_TITLES: dict[int, tuple[str, str]] = {
    502: ("Sign-in service unreachable", "The gateway could not reach {provider}, the service you sign in with."),
    504: ("Sign-in service timed out", "{provider}, the service you sign in with, did not answer in time."),
}

PLAIN_REASONS: dict[str, str] = {
    "upstream-overloaded": "The application is handling too many requests right now. Please try again shortly.",
    "login-banned": "Too many failed sign-ins came from your network. Please wait and try again later.",
    "rate-limit-unavailable": "The rate limit could not be checked, so the request was not served. Please try again shortly.",
    "rate-limit-unchecked": "The request was served without its rate limit being checked.",
    "risk-step-up": "This request looks unusual for your account, so please sign in again.",
    "risk-deny": "This request looks too unusual for your account to be allowed.",
    # who you are
    "user-unauthenticated": "You are not signed in, and this page requires it.",
    "session-expired": "Your session has ended; sign in again to continue.",
    "session-invalid": "Your sign-in could not be recognised; sign in again to continue.",
    "refresh-identity-mismatch": "Your identity provider answered for another account; sign in again.",
    "session-revoked-by-provider": "Your identity provider ended your session; sign in again to continue.",
    # Shared Signals (signals/): why a session was ended or re-checked, should a page name it.
    "account-disabled": "Your account was disabled at your identity provider, so your session was ended.",
    "account-purged": "Your account was removed at your identity provider, so your session was ended.",
    "credential-compromised": "Your identity provider reported your credentials as compromised; sign in again once they are reset.",
    "credential-changed": "Your sign-in credentials changed at your identity provider; sign in again.",
    "claims-changed": "Your account details changed at your identity provider, so your access is checked again.",
    "assurance-downgraded": "Your identity provider lowered the assurance of your sign-in; this page needs you to sign in again.",
    "reverify-failed": "Your sign-in could not be checked again with your identity provider; sign in again.",
    "session-ended": "Your session has ended; sign in again to continue.",
    "reverify-deferred": "Your identity provider could not be reached to check your sign-in again; it will be checked later.",
    "groups-changed": "Your groups or roles changed at your identity provider since you signed in.",
    "identity-changed": "Your account details changed at your identity provider since you signed in.",
    "policy-changed": "The access rules of this application changed, and they no longer let your account in.",
    "store-unavailable": "The gateway could not reach its session store to check your sign-in.",
    "provider-not-accepted": "This application does not accept the account you signed in with.",
    # what you asked for
    "route-not-found": "No application is configured at this address.",
    "host-unknown": "The gateway does not serve this host name.",
    "host-invalid": "The host name in the request is not valid.",
    "path-invalid": "The address contains characters or segments the gateway does not accept.",
    "method-not-allowed": "This application does not accept this kind of request here.",
    "endpoint-not-found": "There is no gateway page at this address.",
    "rate-limited": "Too many requests arrived in a short time; wait a moment and try again.",
    # access rules
    "user-unauthorized": "Your account is not on the list of users allowed here.",
    "email-unauthorized": "Your email address is not allowed to use this application.",
    "groups-unauthorized": "You are not in a group that may use this application.",
    "roles-unauthorized": "You do not have a role that may use this application.",
    "country-unauthorized": "This application cannot be used from your current location.",
    # the application behind the gateway
    "upstream-unreachable": "The application behind the gateway could not be reached.",
    "upstream-timeout": "The application behind the gateway took too long to answer.",
    "upstream-failed": "The application behind the gateway did not answer properly.",
    "upstream-aborted": "The application behind the gateway stopped in the middle of its answer.",
    "gateway-error": "Something went wrong inside the gateway.",
    # signing in
    "login-failed": "Signing in did not complete.",
    "login-state-mismatch": "The sign-in answer does not match a sign-in started in this "
    "browser. Open the application's address again to start over.",
    "login-state-expired": "The sign-in took too long and expired. Please try again.",
    "login-state-invalid": "The sign-in could not be resumed. Please try again.",
    "provider-issuer-mismatch": "The sign-in service describes itself differently than configured.",
    "userinfo-failed": "The sign-in service did not return your profile.",
    "userinfo-sub-mismatch": "The sign-in service returned a profile for another account.",
    "token-type-invalid": "The token is not of a kind accepted here.",
    "token-inactive": "The token is no longer valid: it was revoked or has expired.",
    "introspection-unavailable": "The sign-in service could not confirm the token right now. "
    "Please try again in a moment.",
    "login-provider-error": "Your identity provider reported an error while signing you in.",
    "login-code-missing": "The identity provider's answer was incomplete.",
    "login-iss-mismatch": "The sign-in answer came from a different identity provider than "
    "the one the sign-in started with.",
    "provider-unknown": "The requested way of signing in is not configured here.",
    "code-rejected": "The sign-in answer was already used or does not belong to this "
    "sign-in. Open the application's address again to start over.",
    "csrf-invalid": "The sign-out request did not come from the gateway's own sign-out "
    "page, so you are still signed in. Open /.authgate/logout to sign out.",
    "csrf-cross-site": "The sign-out request came from another site, so you are still "
    "signed in. Open /.authgate/logout to sign out.",
    "duplicate-credentials": "The request carried more than one set of sign-in credentials "
    "(two Authorization headers or two session cookies). Send one.",
    "override-invalid": "The request asked to be treated as another method or address in a "
    "way this gateway refuses.",
    "provider-unreachable": "Your identity provider could not be reached.",
    "provider-timeout": "Your identity provider took too long to answer.",
    "provider-bad-response": "Your identity provider sent an answer the gateway cannot use.",
    "token-exchange-failed": "The gateway could not finish signing you in with your provider.",
    # tokens
    "token-missing": "The request carried no access token.",
    "token-malformed": "The access token is not well-formed.",
    "token-alg-not-allowed": "The token is signed with an algorithm this gateway refuses.",
    "token-signature-invalid": "The token's signature could not be verified.",
    "token-issuer-invalid": "The token comes from an identity provider this application "
    "does not trust.",
    "token-audience-invalid": "The token was issued for a different application.",
    "token-azp-invalid": "The token was issued to a different client.",
    "token-expired": "The token has expired.",
    "token-not-yet-valid": "The token is not valid yet; a clock may be wrong.",
    "token-iat-invalid": "The token's issue time is not acceptable.",
    "token-nonce-invalid": "The sign-in answer does not belong to this sign-in attempt.",
    "token-kid-unknown": "The token is signed with a key the provider has not published.",
    "token-kid-missing": "The token does not say which key signed it.",
    "token-claim-missing": "The token lacks information this application requires.",
    "token-events-invalid": "The logout token is not valid.",
    "token-nonce-present": "The logout token is not valid.",
    "token-replayed": "The token has already been used.",
    "token-subject-mismatch": "The token belongs to a different user than this session.",
    # route policies (authgate.policy): what decided, in plain words
    "policy-no-match": "No access rule of this application lets this request in.",
    "user-ok": "Your account is on the list of users allowed here.",
    "email-ok": "Your email address is allowed here.",
    "email-unverified": "Your identity provider has not verified your email address.",
    "email-malformed": "Your email address, as your identity provider sent it, is not "
    "one the gateway can check.",
    "email-domain-ok": "Your email domain is allowed here.",
    "email-domain-unauthorized": "Accounts with your email domain may not use this application.",
    "groups-ok": "You are in a group that may use this application.",
    "roles-ok": "You have a role that may use this application.",
    "claim-type-mismatch": "Your identity provider sent your groups or roles in a form "
    "the gateway does not trust, so they could not be checked.",
    "claim-ok": "Your account has the attribute this application requires.",
    "claim-unauthorized": "Your account lacks an attribute this application requires.",
    "mfa-ok": "You signed in with more than one factor.",
    "mfa-required": "This application requires signing in with a second factor.",
    "acr-ok": "You signed in at the level this application requires.",
    "acr-insufficient": "This application requires a stronger sign-in than the one you used.",
    "amr-ok": "You signed in with the method this application requires.",
    "amr-insufficient": "This application requires a different way of signing in.",
    "auth-age-ok": "You signed in recently enough.",
    "auth-age-expired": "This page requires a more recent sign-in; sign in again to continue.",
    "country-ok": "Your location is allowed here.",
    "country-unknown": "Your location could not be determined, and this application "
    "depends on it.",
    "ip-ok": "Your network is allowed here.",
    "ip-unauthorized": "This application cannot be used from your network.",
    "ip-unknown": "Your network address could not be determined.",
    "device-ok": "Your device meets this application's requirements.",
    "device-unauthorized": "Your device does not meet this application's requirements.",
    "device-unknown": "Your device could not be checked, and this application requires it.",
    "time-ok": "This application is open at this time.",
    "time-unauthorized": "This application cannot be used at this time.",
    "method-ok": "This kind of request is allowed here.",
    "method-unauthorized": "You may not make this kind of request here.",
    "path-ok": "This address is open to you.",
    "path-unauthorized": "This part of the application is not open to you.",
    "risk-ok": "This sign-in looks safe.",
    "risk-too-high": "This request looks unusual, so it was refused for your protection.",
    "risk-unknown": "The gateway could not assess this request's risk.",
    "scopes-ok": "The access token grants the permissions this request needs.",
    "scopes-insufficient": "The access token does not grant every permission this request needs.",
    # sender-constrained tokens (DPoP, mTLS)
    "dpop-proof-missing": "The access token is bound to a key, and the request carried no proof of it.",
    "dpop-proof-invalid": "The request's proof of possession is not valid.",
    "dpop-alg-not-allowed": "The proof of possession is signed with an algorithm this gateway refuses.",
    "dpop-htm-mismatch": "The proof of possession was made for another kind of request.",
    "dpop-htu-mismatch": "The proof of possession was made for another address.",
    "dpop-iat-invalid": "The proof of possession is too old, or dated in the future.",
    "dpop-replayed": "The proof of possession was used before; make a new one for each request.",
    "dpop-ath-mismatch": "The proof of possession was made for another access token.",
    "dpop-key-mismatch": "The proof of possession was signed with a key the token is not bound to.",
    "dpop-nonce-required": "The proof of possession must carry the nonce the gateway provides.",
    "dpop-required": "This application accepts only tokens bound to a key (DPoP).",
    "dpop-not-accepted": "This application does not accept DPoP proofs.",
    "mtls-certificate-missing": "The access token is bound to a client certificate, and none was presented.",
    "mtls-certificate-mismatch": "The access token is bound to another client certificate.",
    "consent-ok": "You have given the consent this application requires.",
    "consent-required": "This application needs your consent before you continue.",
    "step-up-failed": "The stronger sign-in this page requires did not complete.",
    # privileged access (docs/privileged-access.md)
    "entitlement-ok": "You hold an active, approved grant for this application.",
    "entitlement-required": "This application needs an approved, time-bound grant. "
    "Request one at /.authgate/access.",
    "entitlement-unknown": "Your grants could not be checked just now, so access was not given.",
    "grant-refused": "That access request or decision is not allowed.",
    # WebSockets
    "websocket-handshake-invalid": "The request to open a live connection was not well-formed.",
    "websocket-version-unsupported": "The live connection asked for a protocol version the "
    "gateway does not speak.",
    "websocket-origin-denied": "A live connection to this application may not be opened "
    "from the page you came from.",
    "websocket-origin-missing": "The request to open a live connection did not say which "
    "page it came from.",
    "websocket-limit": "Too many live connections are open; close some and try again.",
    "websocket-message-too-big": "A message on the live connection was larger than allowed.",
    # the connection (authgate.conn)
    "header-timeout": "The request's headers did not arrive in time.",
    "body-timeout": "The request's body stopped arriving.",
    "body-too-slow": "The request's body arrived too slowly.",
    "body-too-large": "The request's body is larger than this application accepts.",
    "headers-too-large": "The request's headers are larger than the gateway accepts.",
    "uri-too-long": "The address is longer than the gateway accepts.",
    "connections-exceeded": "Too many connections are open from your network address.",
    "request-invalid": "The request is not well-formed HTTP.",
    "method-not-implemented": "The gateway does not support this kind of request.",
    "transfer-coding-unsupported": "The request's body was encoded in a way the gateway does not accept.",
    "version-not-supported": "The gateway speaks HTTP/1.0 and HTTP/1.1 on this port.",
}
GENERIC_REASON = "The gateway's access rules do not allow this request."

# A path on this host (not `//host`, not `/\host`) or an absolute http(s) URL, in
# printable ASCII: `javascript:` and `data:` links are script (CWE-79).
_SAFE_HREF = re.compile(r"(?:/(?![/\\])|https?://)[!-\[\]-~]*")


class PageRenderer:
    """Every page, loaded and checked once; `render_*` only fills in values."""

    def __init__(self, templates_dir: Path | None, branding: Branding = NO_BRANDING) -> None:
        if templates_dir is not None:
            _check_folder(templates_dir)
        self._pages = {name: _load(name, page, templates_dir) for name, page in PAGES.items()}
        self.branding = branding
        texts = [page.template for page in self._pages.values()] + [branding.style]
        self.content_security_policy = content_security_policy(
            h for text in texts for h in _style_hashes(text)
        )

    def render_error(
        self, status: int, reason: str, request_id: str, start_over: str = "/"
    ) -> str:
        title, message = ERROR_TITLES.get(status, _UNKNOWN_ERROR)
        return self._render(
            "error.html",
            status=_text(status),
            title=_text(title),
            message=_text(message),
            reason=_text(reason),
            request_id=_text(request_id),
            start_over=f'<p><a class="action" id="start-over" href="{safe_href(start_over)}">Start over</a></p>',
        )

    def render_denied(
        self,
        reason_codes: Sequence[str],
        request_id: str,
        route_id: str | None,
        user: str | None,
        actions: DeniedActions | None = None,
    ) -> str:
        sentences = dict.fromkeys(plain_reason(code) for code in reason_codes)
        return self._render(
            "denied.html",
            reasons=_items(sentences or [GENERIC_REASON]),
            codes=_text(", ".join(reason_codes) or "none"),
            route=_text(route_id or "none matched"),
            user=_text(user or "not signed in"),
            request_id=_text(request_id),
            actions=_denied_actions(actions) if actions is not None else "",
        )

    def render_chooser(
        self,
        providers: Sequence[tuple[str, str, str]],
        request_id: str,
        signups: Sequence[tuple[str, str, str]] = (),
    ) -> str:
        links = "".join(_provider_link(*provider) for provider in providers)
        links += "".join(_signup_link(*provider) for provider in signups)
        empty = "<li>No way of signing in is configured here; please tell your administrator.</li>"
        return self._render(
            "chooser.html", providers=links or empty, request_id=_text(request_id)
        )

    def render_logged_out(self, request_id: str) -> str:
        return self._render("logged_out.html", request_id=_text(request_id))

    def render_sign_in_unavailable(
        self, status: int, reason: str, provider: str, retry_url: str, request_id: str
    ) -> str:
        title, message = sign_in_unavailable_text(status, provider)
        return self._render(
            "sign_in_unavailable.html",
            title=_text(title),
            message=_text(message),
            provider=_text(provider),
            retry_url=safe_href(retry_url),
            status=_text(status),
            reason=_text(reason),
            request_id=_text(request_id),
        )

    def render_logout_confirm(self, csrf_token: str, request_id: str, user: str | None) -> str:
        return self._render(
            "logout_confirm.html",
            csrf_token=_text(csrf_token),
            request_id=_text(request_id),
            user=_text(user or "an unnamed account"),
        )

    def render_access(self, sections: str, request_id: str, user: str, message: str) -> str:
        """The privileged-access page; `sections` and `message` are HTML built by
        `server/access_view.py` from escaped values."""
        return self._render(
            "access.html", sections=sections, request_id=_text(request_id), user=_text(user),
            message=message,
        )  # fmt: skip

    def _render(self, name: str, **values: str) -> str:
        brand = {"brand_style": self.branding.style, "brand": self.branding.header}
        return self._pages[name].substitute(values, **brand)


# Directives, each for one attack: no script, plugin, font, frame or connection at all
# (`default-src 'none'`); no <base> rewriting relative links; no framing (clickjacking;
# the CSP form of X-Frame-Options). `form-action` is left out on purpose: browsers apply
# it to the redirects after a submit too, and the logout form ends at the provider's
# end-session endpoint on another origin.
_POLICY = "default-src 'none'; {styles}; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)


def content_security_policy(style_hashes: Iterable[str]) -> str:
    """The pages' policy; `style_hashes` are CSP source expressions (`'sha256-…'`)."""
    hashes = sorted(set(style_hashes))
    return _POLICY.format(styles="style-src " + (" ".join(hashes) if hashes else "'none'"))


def _style_hashes(text: str) -> list[str]:
    # CSP hashes the element's text exactly as served: the template text itself, since
    # no placeholder may sit inside a <style> block (checked at load).
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"
        for m in _STYLE.finditer(text)
    ]


def sign_in_unavailable_text(status: int, provider: str) -> tuple[str, str]:
    """Title and sentence for a provider that failed during sign-in (502 or 504)."""
    title, message = SIGN_IN_TITLES.get(status, SIGN_IN_TITLES[502])
    return title, message.format(provider=provider)


def plain_reason(code: str) -> str:
    """The reason code in plain words; unknown codes get a generic sentence."""
    return PLAIN_REASONS.get(code, GENERIC_REASON)


def safe_href(url: str) -> str:
    """`url`, escaped for an attribute, if it is a link we may render; else ValueError."""
    if not _SAFE_HREF.fullmatch(url):
        raise ValueError(f"refusing to render link {url!r}: not a local path or http(s) URL")
    return _text(url)


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _items(sentences: Iterable[str]) -> str:
    return "".join(f"<li>{_text(sentence)}</li>" for sentence in sentences)


@dataclass(frozen=True, slots=True)
class DeniedActions:
    """What a signed-in user may do on the denied page: sign out, or sign in as
    somebody else (`switch_url` starts a fresh login back to the same URL)."""

    csrf_token: str
    switch_url: str


def _denied_actions(actions: DeniedActions) -> str:
    # The same plain POST form as logout_confirm.html: signing out is that POST with
    # the session's CSRF token, never a GET (docs/login.md; CWE-352).
    return (
        '<form class="actions" method="post" action="/.authgate/logout">'
        f'<input type="hidden" name="csrf_token" value="{_text(actions.csrf_token)}">'
        '<button type="submit" id="denied-sign-out">Sign out</button> '
        f'<a class="action" id="switch-account" href="{safe_href(actions.switch_url)}">'
        "Use another account</a></form>"
    )


def _signup_link(provider_id: str, display_name: str, start_url: str) -> str:
    return (
        f'<li><a class="provider signup" id="create-account-{_text(provider_id)}" '
        f'href="{safe_href(start_url)}" data-provider="{_text(provider_id)}">'
        f"Create an account with {_text(display_name)}</a></li>"
    )


def _provider_link(provider_id: str, display_name: str, start_url: str) -> str:
    return (
        f'<li><a class="provider" href="{safe_href(start_url)}" '
        f'data-provider="{_text(provider_id)}">Continue with {_text(display_name)}</a></li>'
    )


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise TemplateError(str(folder), "templates folder does not exist or is not a folder")
    for path in sorted(folder.glob("*.html")):
        if path.name not in PAGES:
            raise TemplateError(
                str(path), f"not a page authgate renders (expected one of {', '.join(PAGES)})"
            )


def _load(name: str, page: _Page, templates_dir: Path | None) -> Template:
    source = _source(name, templates_dir)
    try:
        text = source.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(str(source), f"cannot read template: {error}") from None
    template = Template(text)
    _check_placeholders(str(source), template, page)
    _check_inline_code(str(source), text)
    return template


def _source(name: str, templates_dir: Path | None) -> Traversable:
    if templates_dir is not None and (templates_dir / name).exists():
        return templates_dir / name
    return resources.files("authgate").joinpath("templates", name)


def _check_inline_code(file: str, text: str) -> None:
    if _SCRIPT.search(text):
        raise TemplateError(file, "pages carry no <script>: the Content-Security-Policy blocks it")
    if any("$" in m.group(1) for m in _STYLE.finditer(text)):
        raise TemplateError(file, "no '$' inside <style>: the Content-Security-Policy hashes it as loaded")


def _check_placeholders(file: str, template: Template, page: _Page) -> None:
    if not template.is_valid():
        raise TemplateError(file, "invalid '$' placeholder (write '$$' for a dollar sign)")
    used = set(template.get_identifiers())
    missing = sorted(page.required - used)
    if missing:
        raise TemplateError(file, f"missing placeholder(s): {', '.join('$' + m for m in missing)}")
    unknown = sorted(used - page.required - page.optional)
    if unknown:
        raise TemplateError(file, f"unknown placeholder(s): {', '.join('$' + u for u in unknown)}")
