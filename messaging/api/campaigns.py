"""Campaigns API: create with a list of recipients, follow progress, start / pause / cancel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from messaging import campaigns
from messaging.models import Campaign
from tenants.api import TenantScopedMixin
from whatsapp_saas.api.errors import ApiError

from .serializers import SendSerializer
from .views import READ, SEND, number_of

MAX_RECIPIENTS = 50_000


class CampaignCreateSerializer(SendSerializer):
    """The body of POST /campaigns/: the message of a send, to many recipients."""

    # DRF drops an inherited field set to None; the stubs type these as the parent's fields.
    to = None  # type: ignore[assignment]
    client_message_id = None  # type: ignore[assignment]
    name = serializers.CharField(max_length=200)
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=MAX_RECIPIENTS
    )
    delay_seconds = serializers.FloatField(min_value=0, max_value=3600, default=2.0)
    start = serializers.BooleanField(default=False)

    def validate_recipients(self, value: list[str]) -> list[str]:
        """Phone numbers with country code; the ones that are not are named."""
        phones, invalid = campaigns.parse_recipients(value)
        if invalid:
            raise serializers.ValidationError(f"Not phone numbers: {', '.join(invalid[:10])}")
        return phones


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign with its progress (messages by status)."""

    filename = serializers.CharField(source="file_name")
    recipients_count = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "number",
            "name",
            "type",
            "text",
            "media_url",
            "caption",
            "filename",
            "delay_seconds",
            "status",
            "recipients_count",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_recipients_count(self, campaign: Campaign) -> int:
        """How many people it goes to."""
        return len(campaign.recipients)

    def get_progress(self, campaign: Campaign) -> dict[str, int]:
        """Messages by status, and recipients not queued yet."""
        return campaigns.progress(campaign)


class CampaignViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The tenant's campaigns."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    filterset_fields = ["number", "status"]
    http_method_names = ["get", "post"]
    required_scopes = {"read": READ, "write": SEND}

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def create(self, request: Request) -> Response:
        """Create a draft campaign (and start it when `start` is true)."""
        body = CampaignCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        number = number_of(self.tenant, data["number"])
        with campaign_errors():
            campaign = campaigns.create_campaign(
                self.tenant,
                number,
                name=data["name"],
                recipients=data["recipients"],
                type=data["type"],
                text=data["text"],
                media_url=data["media_url"],
                caption=data["caption"],
                file_name=data["filename"],
                delay_seconds=data["delay_seconds"],
            )
            if data["start"]:
                campaigns.start_campaign(campaign)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Start or resume sending."""
        return self.act(campaigns.start_campaign)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stop new sends at once."""
        return self.act(campaigns.pause_campaign)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Stop for good; unsent messages fail `campaign_cancelled`."""
        return self.act(campaigns.cancel_campaign)

    def act(self, func: Any) -> Response:
        """Run a campaign service on the addressed campaign; a state conflict is a 409."""
        campaign = self.get_object()
        with campaign_errors():
            func(campaign)
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)


@contextmanager
def campaign_errors() -> Iterator[None]:
    """Turn a CampaignError into a 409 that says why."""
    try:
        yield
    except campaigns.CampaignError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
