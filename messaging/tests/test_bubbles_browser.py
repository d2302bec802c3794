"""In a real browser: a conversation shows images inline, plays audio and video, links
documents, marks edited and deleted messages, shows reactions and calls, and redraws them live."""

from __future__ import annotations

import base64
import io
import math
import struct
import wave
from collections.abc import Iterator
from typing import Any

import pytest

from messaging import media_tasks
from messaging.models import Conversation, MediaFile, Message
from whatsapp_saas.tests.browser_live import (
    EventsWorker,
    linked_world,
    process_stored_webhooks,
    sign_in,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CUSTOMER = "5511977770000"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def voice_note() -> bytes:
    """Half a second of a 440 Hz tone as WAV: real audio a browser decodes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(4000))
        wav.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return out.getvalue()


def b64(data: bytes) -> str:
    """Bare base64, as the sandbox takes a file."""
    return base64.b64encode(data).decode()


@pytest.fixture
def world(live_server: Any, sandbox: Any, settings: Any) -> Iterator[dict[str, Any]]:
    """Alice owns Acme, whose Evolution number is linked at the sandbox and posts to us."""
    yield from linked_world(live_server, sandbox, settings)


def fetch_files() -> bool:
    """What the events worker does for the files it is woken for."""
    for media_id in MediaFile.objects.filter(status="pending").values_list("pk", flat=True):
        media_tasks.fetch_media(media_id)
    return not MediaFile.objects.filter(status="pending").exists()


def test_the_conversation_shows_files_changes_reactions_and_calls(
    live_server: Any, sandbox: Any, world: Any, browser_page: Any, screenshot_dir: Any
) -> None:
    key = world["number"].instance_name

    def inbound(**body: Any) -> str:
        return str(sandbox.inbound("evolution", key, **{"from": CUSTOMER, **body})["id"])

    inbound(text="Olá! Seguem os arquivos.", pushName="Ana")
    photo = inbound(media={"type": "image", "caption": "A foto do pedido"})
    inbound(
        media={"type": "audio", "mimetype": "audio/wav", "ptt": True, "base64": b64(voice_note())}
    )
    inbound(media={"type": "video", "caption": "O vídeo"})
    inbound(media={"type": "document", "fileName": "pedido-123.pdf", "base64": b64(PDF)})
    typo = inbound(text="Chega amanah?")
    gone = inbound(text="Mensagem errada")
    sandbox.incoming_call("evolution", key, **{"from": CUSTOMER, "status": "timeout"})
    wait_for(lambda: process_stored_webhooks() >= 0 and Message.objects.count() == 8, timeout=30)
    sandbox.edit(typo, "Chega amanhã?")
    sandbox.revoke(gone)
    sandbox.react(photo, "👍")
    wait_for(
        lambda: (
            process_stored_webhooks() >= 0
            and Message.objects.filter(edited_at__isnull=False).exists()
            and Message.objects.filter(deleted_at__isnull=False).exists()
            and Message.objects.exclude(reactions=[]).exists()
        ),
        timeout=30,
    )
    wait_for(fetch_files, timeout=30)

    page = browser_page
    sign_in(page, live_server.url, "alice@acme.test", "pw-alice-123")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{live_server.url}/conversations/{Conversation.objects.get().pk}/")
    page.wait_for_function("document.querySelector('.bubble img.media')?.naturalWidth > 0")
    audio_seconds = page.evaluate(
        """() => new Promise((done) => {
            const audio = document.querySelector('.bubble audio.media');
            if (audio.readyState >= 1) { done(audio.duration); return; }
            audio.addEventListener('loadedmetadata', () => done(audio.duration));
            audio.addEventListener('error', () => done(-1));
            audio.load();
        })"""
    )
    assert 0.4 < audio_seconds < 0.6  # the stored voice note, decoded by the browser
    assert page.evaluate("document.querySelector('.bubble audio.media').paused") is True
    video = page.get_attribute(".bubble video.media", "src")
    assert video and page.get_attribute(".bubble video.media", "controls") is not None
    served = page.request.get(live_server.url + video)
    assert served.ok and served.headers["content-type"] == "video/mp4"
    document = page.locator(".bubble a.file")
    assert document.inner_text() == "pedido-123.pdf" and document.get_attribute("download") == ""
    pdf = page.request.get(live_server.url + str(document.get_attribute("href")))
    assert pdf.body() == PDF and "attachment" in pdf.headers["content-disposition"]
    assert page.inner_text(".bubble:has(.edited) .text") == "Chega amanhã?"
    assert page.inner_text(".bubble.deleted .gone") == "This message was deleted"
    assert "Mensagem errada" not in page.content()
    assert page.inner_text(".bubble:has(img.media) .reaction") == "👍"
    assert page.inner_text(".bubble .call") == "Missed call"
    # The chat scrolls within the page; let it grow for the screenshots, to see every bubble.
    page.add_style_tag(content="#chat { max-height: none !important; height: auto !important; }")
    page.screenshot(path=str(screenshot_dir / "bubbles_1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= 390")
    page.screenshot(path=str(screenshot_dir / "bubbles_390.png"), full_page=True)

    # While the page is open: a second reaction and an edit are drawn in place.
    with EventsWorker():
        sandbox.react(photo, "❤️", **{"from": "5511966660000"})
        sandbox.edit(photo, "A foto do pedido (nova)")
        page.wait_for_selector(".bubble:has(img.media) .reaction:text('❤️')", timeout=20000)
        page.wait_for_selector(".bubble:has(img.media) .edited", timeout=20000)
    assert page.inner_text(".bubble:has(img.media) .text") == "A foto do pedido (nova)"
    assert Message.objects.count() == 8  # no edit, deletion or reaction became a message
    page.goto("about:blank")
