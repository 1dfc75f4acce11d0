"""Policy criteria: one small frozen evaluator per criterion, grouped by the fact read.

Contract: each evaluator is built once by `authgate.policy.compile` with its rule
path and prebuilt verdicts (`authgate.policy.verdict.Outcomes`), and answers
`check(inp) -> Verdict` with no I/O and no allocation beyond what the criterion
must compute. Criteria that read the identity answer `out.anonymous` when there is
none: logging in may change their answer.

    identity   authenticated, user
    email      email, email_domain
    membership groups, roles
    claim      claim (dotted path; equals / contains / in)
    authn      mfa, acr, amr, auth_age
    network    ip, country
    device     device
    schedule   time
    request    method, path
    risk       risk
    consent    consent
    scopes     scopes (the token's `scope` / `scp`)
"""
