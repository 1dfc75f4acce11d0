"""authgate: an authenticating reverse proxy and zero-trust access gateway."""

__version__ = "0.1.0"
