"""Mutate: what the gateway changes on a request it forwards (STYLE lesson 3).

Contract: mutators only strip and set headers and mint the upstream assertion; they
never decide. `strip_identity_headers` and `strip_cookie` run on every forwarded
request; `identity_headers` and `AssertionSigner.sign` only for an identified one.

Modules (import them directly; this package imports nothing, so that config loading
can compile templates without loading multidict, jwt or cryptography):

* `identity_headers` — header names, stripping, setting (re-exports the two below)
* `templates` — `compile_templates`, `CompiledTemplates`, `TemplateError` (pure)
* `encoding` — how values are written into header fields (pure)
* `cookies` — `strip_cookie`
* `assertion` — `AssertionSigner` (re-exports the key file API below)
* `assertion_keys` — `AssertionKeys`, `rotate_key_file`, `AssertionKeyError`
* `jwk` — P-256 JWKs and RFC 7638 thumbprints
"""
