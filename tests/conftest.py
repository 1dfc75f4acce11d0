"""Test configuration: real parts started by fixtures in `tests/testbed/`."""

pytest_plugins = [
    "tests.testbed.echo",
    "tests.testbed.gateway",
    "tests.testbed.oidc",
    "tests.testbed.redis",
    "tests.testbed.redis_cluster",
    "tests.testbed.browser",
    "tests.testbed.nginx",
    "tests.testbed.caddy",
    "tests.testbed.login_gateway",
    "tests.testbed.transmitter",
]
