"""GeoIP: where a client IP is, which network it belongs to, and whether it is anonymous.

Modules:
- `facts` — `GeoFacts` (the frozen answer) and `GeoError`; pure;
- `records` — reading one database record, whatever its layout; pure;
- `databases` — `GeoDatabases`, the `maxminddb` readers with a per-IP cache and
  reload-on-change.

Import `GeoDatabases` from `authgate.geo.databases`: this file imports nothing, so the
pure risk engine can use `authgate.geo.facts` without loading `maxminddb`.
"""
