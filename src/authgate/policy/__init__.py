"""Per-route policies: compile once at load, evaluate purely per request.

Contract: the modules are used directly; this package imports nothing on purpose, so
importing one part never loads the others. Every module is pure — no aiohttp,
redis, jwt, yarl or multidict (checked by tests/policy/test_purity.py) — so a
decision can be tested as a table and timed in microseconds (STYLE.md lesson 4).

    reasons      the closed vocabulary of reason codes (also in `decision.Reason`)
    verdict      three-valued verdicts of one entry; reason orientation
    criteria/    one small evaluator per criterion
    combinators  and / or / not
    compile      config -> evaluators with rule paths; compile problems by key path
    evaluate     PolicyInput, PolicyResult, evaluate(): deny wins, default deny
    stepup       step-up and just-in-time elevation; consent check
    audience     workforce / customer defaults (the documented table)
    authorize    a route's policy, step-up and consent -> the `Decision`
    explain      `authgate explain`'s core; explain_cli its command line

Semantics for operators: docs/policies.md.
"""
