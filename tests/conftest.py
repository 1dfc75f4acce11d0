"""Test configuration: real parts started by fixtures in `tests/testbed/`."""

pytest_plugins = [
    "tests.testbed.echo",
    "tests.testbed.gateway",
    "tests.testbed.oidc",
    "tests.testbed.redis",
    "tests.testbed.browser",
]
