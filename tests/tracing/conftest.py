"""The tracing tests' fixtures: the OTLP/HTTP receiver (tests/testbed/otlp.py)."""

from tests.testbed.otlp import otlp_receiver

__all__ = ["otlp_receiver"]
