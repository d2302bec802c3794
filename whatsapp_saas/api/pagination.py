"""Cursor pagination, newest first: {"results": [...], "next": url or null}."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirstCursorPagination(CursorPagination):
    """Stable cursor pages ordered by creation time, newest first."""

    ordering = ("-created_at", "-pk")
    page_size_query_param = "limit"
    max_page_size = 200

    def get_paginated_response(self, data: Any) -> Response:
        """Only `results` and `next`, as the public contract says."""
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Describe the page shape in the OpenAPI schema."""
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }
