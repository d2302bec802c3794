"""Fixtures of the project-level tests: numbers linked at the sandbox (from messaging's tests)."""

from messaging.tests.fixtures import linked  # noqa: F401
