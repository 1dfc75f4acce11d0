"""Tests for authgate.routing: normalization, hosts, matchers, route table."""
