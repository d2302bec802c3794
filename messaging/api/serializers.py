"""Messages and conversations as the public API shows them (API.md "Messages")."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from instances.api.serializers import clean_phone
from messaging import media
from messaging.content import content_errors
from messaging.models import Contact, Conversation, MediaFile, Message
from whatsapp_saas.api.fast import FastRepresentation
from whatsapp_saas.api.strict import StrictTypes
from whatsapp_saas.api.validators import public_url

SEND_TYPES = ["text", "image", "video", "document", "audio"]
MAX_TEXT = 4096
# WhatsApp shows at most this much of a media caption.
MAX_CAPTION = 1024


# The API's field order; `from` is a Python keyword, so it is added in get_fields.
MESSAGE_FIELDS = [
    "id",
    "number",
    "conversation",
    "direction",
    "to",
    "from",
    "type",
    "text",
    "media_url",
    "caption",
    "status",
    "provider_message_id",
    "client_message_id",
    "error",
    "attempts",
    "created_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "media",
    "reply_to",
    "reactions",
    "edited_at",
    "deleted_at",
]
# Our own route for an inbound message's file (API.md "Messages").
MEDIA_PATH = "/api/v1/messages/{id}/media/"


class MediaSerializer(serializers.Serializer):
    """An inbound message's file (API.md `media`)."""

    status = serializers.ChoiceField(choices=MediaFile.Status.choices)
    mime_type = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    file_name = serializers.CharField()


class MessageSerializer(FastRepresentation, serializers.ModelSerializer):
    """A message: `to` and `from` are the recipient and sender columns."""

    number = serializers.UUIDField(source="number_id", read_only=True)
    conversation = serializers.UUIDField(source="conversation_id", read_only=True)
    to = serializers.CharField(source="recipient", read_only=True)
    error = serializers.DictField(read_only=True, allow_null=True)
    reply_to = serializers.UUIDField(source="reply_to_id", read_only=True, allow_null=True)
    media = serializers.SerializerMethodField()
    media_url = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()
    caption = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [name for name in MESSAGE_FIELDS if name != "from"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        """The model's fields plus `from`, in the API's order."""
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="sender", read_only=True)
        return {name: fields[name] for name in MESSAGE_FIELDS}

    def get_text(self, message: Message) -> str:
        """A deleted message shows no text."""
        return "" if message.deleted_at else message.text

    def get_caption(self, message: Message) -> str:
        """A deleted message shows no caption."""
        return "" if message.deleted_at else message.caption

    @extend_schema_field(MediaSerializer(allow_null=True))
    def get_media(self, message: Message) -> dict[str, Any] | None:
        """An inbound file's state; none for a deleted message or one without a file."""
        found = None if message.deleted_at else media.of(message)
        if found is None:
            return None
        return {
            "status": found.status,
            "mime_type": found.mime_type,
            "size": found.size,
            "file_name": found.file_name,
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_media_url(self, message: Message) -> str | None:
        """Outbound: the URL we sent; inbound: our own URL once the file is stored."""
        if message.deleted_at:
            return None
        if message.direction == Message.Direction.OUTBOUND:
            return message.media_url or None
        found = media.of(message)
        if found is None or found.status != MediaFile.Status.STORED:
            return None
        path = MEDIA_PATH.format(id=message.pk)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


# The columns each API field reads, where they are not one column of its own name.
FILE_COLUMNS = [f"media_file__{name}" for name in ("id", *MediaSerializer._declared_fields)]
SOURCES = {
    "number": ["number_id"],
    "conversation": ["conversation_id"],
    "to": ["recipient"],
    "from": ["sender"],
    "text": ["text", "deleted_at"],
    "caption": ["caption", "deleted_at"],
    "error": ["error_code", "error_message"],
    "media": FILE_COLUMNS,
    "media_url": ["media_url", "direction", *FILE_COLUMNS],
    "reply_to": ["reply_to_id"],
}
# A listed message reads only these: the others (provider extras, the lane's bookkeeping) are
# never shown, and each column costs a conversion per row.
LISTED_COLUMNS = tuple(dict.fromkeys(c for f in MESSAGE_FIELDS for c in SOURCES.get(f, [f])))


def for_listing(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Messages with their file's state, reading only what MessageSerializer shows."""
    return messages.select_related("media_file").only(*LISTED_COLUMNS)


class SendSerializer(StrictTypes):
    """The body of POST /messages/."""

    number = serializers.UUIDField()
    to = serializers.CharField(max_length=40)
    type = serializers.ChoiceField(choices=SEND_TYPES)
    text = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False, max_length=MAX_TEXT
    )
    media_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    caption = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_CAPTION
    )
    filename = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    client_message_id = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=128
    )

    def validate_to(self, value: str) -> str:
        """8 to 15 digits once +, spaces and dashes are removed."""
        return clean_phone(value)

    def validate_media_url(self, value: str) -> str:
        """A public http(s) URL, when given: the provider fetches it (DESIGN.md "Media")."""
        return public_url(value) if value else value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Text messages carry text; media messages carry a media URL (and maybe a caption)."""
        errors = content_errors(attrs["type"], text=attrs["text"], media_url=attrs["media_url"])
        if errors:
            raise serializers.ValidationError({field: [why] for field, why in errors.items()})
        return attrs


def fingerprint(data: dict[str, Any]) -> str:
    """A digest of what a send asks for, to tell a replay from another request with the same key."""
    body = {k: str(v) for k, v in data.items() if k != "client_message_id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class ContactSerializer(FastRepresentation, serializers.ModelSerializer):
    """The other side of a conversation."""

    class Meta:
        model = Contact
        fields = ["id", "phone", "lid", "name", "is_group"]
        read_only_fields = fields


class ConversationSerializer(FastRepresentation, serializers.ModelSerializer):
    """One number's thread with one contact."""

    number = serializers.UUIDField(source="number_id", read_only=True)
    contact = ContactSerializer(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "number", "contact", "last_message_at", "unread_count", "created_at"]
        read_only_fields = fields
