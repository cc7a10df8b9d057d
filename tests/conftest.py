"""Shared fixtures live in tests/fixtures/, one module per stand-in."""
pytest_plugins = [
    "tests.fixtures.emulator",
    "tests.fixtures.host",
    "tests.fixtures.stack",
    "tests.fixtures.redis_server",
    "tests.fixtures.connect_proxy",
    "tests.integration.host.issuer",
]
