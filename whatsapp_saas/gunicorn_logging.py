"""gunicorn's access and error logs, masked like ours (its access lines carry webhook tokens)."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from .logging import MaskSecretsFilter, mask


class MaskedLogger(Logger):
    """Access-log atoms (request line, path, query, headers) and every error line are masked."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers, each with our masking filter."""
        super().setup(cfg)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            handler.addFilter(MaskSecretsFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms with their text masked."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {k: mask(v) if isinstance(v, str) else v for k, v in atoms.items()}
