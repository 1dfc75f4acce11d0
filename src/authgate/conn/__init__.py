"""The connection level of the public listener, apart from any HTTP library.

Contract: the policy a data plane enforces per connection, as plain values and pure
state machines — `limits` (what is allowed, from `server:`), `clock` (which timer runs
and when it expires), `peers` (open connections per client address), `refusals`
(what a refused request is answered, and the checks that pick it). Nothing here
imports aiohttp: `server/protocol.py` is the aiohttp glue, and a data plane of our
own would drive the same modules. docs/limits.md lists the defaults.
"""
