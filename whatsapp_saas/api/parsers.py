"""The API's JSON parser: nesting-limited, and a 400 `malformed_body` for anything it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from whatsapp_saas import safejson


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser over safejson.loads (no RecursionError, no NaN)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """The body as JSON; ParseError coded `malformed_body` otherwise."""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return safejson.loads(stream.read().decode(encoding))
        except (safejson.MalformedJSON, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}", code="malformed_body") from exc
