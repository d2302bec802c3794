"""QR codes and pairing codes: real, scannable PNGs whose content is a random reference."""

from __future__ import annotations

import base64
import io
import random

import qrcode
from qrcode.image.pure import PyPNGImage

# Baileys' pairing-code alphabet (Crockford-like base32 without 0, O, I, U).
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
PNG_PREFIX = "data:image/png;base64,"


def _b64(rng: random.Random, size: int) -> str:
    """Return standard base64 of size random bytes."""
    return base64.b64encode(rng.randbytes(size)).decode()


def qr_reference(rng: random.Random) -> str:
    """Return a fresh WhatsApp-Web-like QR payload: ref,noiseKey,identityKey,advSecret."""
    return f"2@{_b64(rng, 48)},{_b64(rng, 32)},{_b64(rng, 32)},{_b64(rng, 32)}"


def png_base64(text: str) -> str:
    """Render text as a QR code and return the PNG as bare base64."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=4, border=2)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(image_factory=PyPNGImage).save(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def png_data_url(text: str) -> str:
    """Render text as a QR code and return a data:image/png;base64 URL."""
    return PNG_PREFIX + png_base64(text)


def pairing_code(rng: random.Random) -> str:
    """Return an 8-character pairing code."""
    return "".join(rng.choice(PAIRING_ALPHABET) for _ in range(8))
