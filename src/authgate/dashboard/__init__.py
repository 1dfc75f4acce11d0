"""The live decision dashboard's data: taps, rollups, shared feeds and views.

`tap.DashboardTap` (the decision log's writer hands it each batch), `rollup.Rollup`
(per-second and per-minute aggregates), `feeds.SharedFeed` (several workers or replicas,
read back from the Redis stream or file sink), `source.build_dashboard` (which one),
`views` (the JSON the APIs answer), `live.LiveHub` (server-sent events). The routes are
on the admin listener only: `ops.dashboard`. The page and the vendored uPlot build are
package data under `static/`.
"""
