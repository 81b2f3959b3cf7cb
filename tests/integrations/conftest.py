"""Fixtures of the integration-target tests: a botocore session with moto's credentials."""

from tests.integrations.moto_server import session

__all__ = ["session"]
