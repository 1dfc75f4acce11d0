"""Adaptive risk: signals from facts and history, a score, and allow / step-up / deny.

Modules:
- `signal` — the closed vocabulary of signal names (`Signal`);
- `model` — `History` and `Location`, the plain values the store answers with;
- `rules` — `RiskRules`, a route's `adaptive:` block compiled once at load time;
- `signals` — `signals(...)`, pure: which signals a request raises;
- `score` — `score(...)`, `risk_decision(...)`, pure;
- `assess` — the three steps as one call, the value the decision record carries;
- `history` — the `HistoryStore` Protocol; `history_memory` and `history_redis`
  implement it.

Everything but the stores is pure (no aiohttp, redis, jwt imports). This file imports
nothing: the config schema imports `risk.signal`, and `risk.rules` imports the schema,
so a re-export here would be an import cycle.
"""
