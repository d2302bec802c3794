"""Errors of the number services; `code` is the API error code."""

from __future__ import annotations


class NumberError(Exception):
    """A request the number's state does not allow; `code` is the API error code."""

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


class QuotaExceeded(NumberError):
    """The tenant already has as many numbers as it may."""


class InvalidCredentials(NumberError):
    """The provider refused the credentials of a console-made instance; `fields` name them."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message, code="invalid_credentials")
        self.fields = fields
