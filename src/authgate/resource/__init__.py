"""The gateway as an OAuth 2 protected resource, for API and agent clients.

Contract, by module:

    identifier a route's RFC 9728 resource identifier, where its metadata lives
               (the `resource_metadata` URL its 401 names), which route a
               `/.well-known/oauth-protected-resource/...` request describes (pure)
    metadata   the RFC 9728 document of a route
    challenge  the `WWW-Authenticate` answers of a bearer route (RFC 6750 §3,
               RFC 9449 §7.1 DPoP errors, RFC 9728 §5.1) (pure)
    dpop       one DPoP proof JWT checked (RFC 9449 §4.3), pure
    nonce      server-issued DPoP nonces (RFC 9449 §8-9), stateless across replicas
    binding    a validated token's `cnf` against the request: DPoP (`jkt`, with the
               replay cache in the store) and mTLS (RFC 8705 `x5t#S256`)

JOSE is joserfc's (the JOSE library of the authlib project, which it depends on):
key import, RFC 7638 thumbprints, JWS verification with an explicit algorithm list.
"""
