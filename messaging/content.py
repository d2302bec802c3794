"""What a message must carry: text for a text message, a media URL (and maybe a caption) else."""

from __future__ import annotations

TEXT = "text"


def content_errors(type: str, *, text: str, media_url: str) -> dict[str, str]:
    """Field -> what is wrong with it for a message of `type`; empty when the content fits."""
    errors: dict[str, str] = {}
    if type == TEXT:
        if not text.strip():
            errors["text"] = "Required for text messages: 1 to 4096 characters."
        if media_url:
            errors["media_url"] = "Only for media types."
    else:
        if not media_url:
            errors["media_url"] = "Required for media types."
        if text:
            errors["text"] = "Use caption for media messages."
    return errors
