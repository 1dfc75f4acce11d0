"""Test configuration: real parts started by fixtures in `tests/testbed/`."""

pytest_plugins = [
    "tests.testbed.echo",
]
