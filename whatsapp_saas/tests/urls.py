"""Test-only URLs: the real ones plus small views exercising the shared API machinery."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from whatsapp_saas.urls import handler500  # noqa: F401  (Django looks it up here)
from whatsapp_saas.urls import urlpatterns as real_urlpatterns


class EchoSerializer(serializers.Serializer):
    """A body with one required phone-like field."""

    to = serializers.RegexField(r"^\d{8,15}$")


class SendLikeView(APIView):
    """Requires messages:send and validates its body, like the send endpoint will."""

    required_scopes = {"write": "messages:send"}

    def post(self, request: Request) -> Response:
        """Validate and echo."""
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=202)


class BrokenView(APIView):
    """Fails unexpectedly, as a bug would."""

    required_scopes: dict[str, str] = {}

    def get(self, request: Request) -> Response:
        """Raise with a secret in the message: the log shows it masked, the client never."""
        raise RuntimeError("boom with apikey=super-secret-value")


def touch_session(request: HttpRequest) -> HttpResponse:
    """A page that changes the session, so SessionMiddleware saves it after the view."""
    request.session["touched"] = True
    return HttpResponse("ok")


urlpatterns = [
    path("_test/touch-session/", touch_session),
    path("api/v1/_test/send/", SendLikeView.as_view()),
    path("api/v1/_test/broken/", BrokenView.as_view()),
    *real_urlpatterns,
]
