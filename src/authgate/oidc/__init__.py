"""OpenID Connect for the gateway: login flow, discovery, keys, tokens, claims.

Contract: the modules are used directly (`authgate.oidc.flow`, `.tokens`, ...); this
package imports nothing on purpose, so importing the pure parts (`flow`, `claims`,
`metadata`, `errors`) never loads aiohttp or pyjwt (STYLE.md lesson 4).

    errors    LoginError / TokenInvalid / ProviderError, each with a closed reason set
    flow      login bookkeeping: state, nonce, PKCE, authorization URL, callback checks
    metadata  the discovery document, checked against the configured issuer
    jwks      the provider's signing keys, cached, refetched on rotation (rate-limited)
    tokens    ID token, bearer access token and logout token validation
    client    the provider's HTTP endpoints: discovery, token, userinfo, end-session
    claims    claims -> `Identity` (dotted-path mapping)
"""
