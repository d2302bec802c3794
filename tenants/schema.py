"""OpenAPI description of our API-key authentication (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <api key>`."""

    target_class = "tenants.auth.ApiKeyAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        """The scheme as the schema declares it."""
        return {"type": "http", "scheme": "bearer", "description": "API key"}
