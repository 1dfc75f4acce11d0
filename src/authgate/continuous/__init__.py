"""Continuous access evaluation: access re-checked for as long as it lasts
(docs/continuous.md). `interval` says when a session is re-verified, `revalidate` what
a refresh must prove, `reverify` does it, `connections` makes long-lived connections
follow their session, `tally` counts every re-evaluation for the metrics."""
