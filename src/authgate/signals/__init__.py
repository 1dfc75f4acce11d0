"""The Shared Signals receiver: Security Event Tokens from a provider's transmitter.

`subjects` reads RFC 9493 subject identifiers, `events` turns a verified SET into
events with an effect, `verify` checks the SET, `transmitter` holds one provider's
transmitter (metadata, keys), `actions` carries an event out on the store, `records`
writes its decision record, `poll` is the RFC 8936 poller. The push endpoint is
`server/signals_endpoint.py`. docs/continuous.md says what each event does.
"""
