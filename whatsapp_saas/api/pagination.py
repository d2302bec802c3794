"""Cursor pagination, newest first: {"results": [...], "next": url or null}."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# What encode_cursor writes (standard base64); anything else was not made by us.
BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
BAD_CURSOR = "Invalid cursor: use the `next` link of a previous page."


class NewestFirstCursorPagination(CursorPagination):
    """Stable cursor pages ordered by creation time, newest first.

    A malformed cursor or `limit` is a 400 naming it (API.md), never a 404 or a silent default.
    """

    ordering = ("-created_at", "-pk")
    page_size_query_param = "limit"
    max_page_size = 200

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        """A page; a cursor whose position does not fit the ordering field is a bad cursor."""
        try:
            return super().paginate_queryset(queryset, request, view)
        except DjangoValidationError:
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]}) from None

    def decode_cursor(self, request: Request) -> Cursor | None:
        """The cursor of the request; malformed ones are a 400."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not BASE64.fullmatch(encoded):
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]})
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]}) from None

    def get_page_size(self, request: Request) -> int:
        """`limit` from 1 to 200 (default 50)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return int(self.page_size or 50)
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

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
