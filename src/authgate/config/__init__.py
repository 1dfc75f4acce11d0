"""Operator configuration: load YAML, validate into typed models, compile a snapshot."""
