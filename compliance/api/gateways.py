"""Gateways (R25–R30) under /api/v1/: registry and receipts, the entitlement feed, alerts.
The stream is an async view (``compliance.streams``); AuthZEN lives at the site root
(``compliance.api.authzen``)."""

from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import enforcement, entitlements, selectors, services
from compliance.api.permissions import (
    AccessReader,
    GatewayOnly,
    GatewayRegistry,
    ReadAnyRoleWriteStaff,
)
from compliance.api.serializers import DetailSerializer, OffsetDateTimeField, StrictSerializer
from compliance.api.views import ApiViewMixin, refuse_nul, valid
from compliance.models import Gateway

GATEWAY_ALERT_KINDS = ("gateway_lagging", "gateway_silent")


class GatewaySerializer(serializers.Serializer):
    name = serializers.CharField()
    active = serializers.BooleanField()
    applied_revision = serializers.IntegerField(help_text="Newest revision it enforces (R28).")
    applied_at = OffsetDateTimeField(allow_null=True)
    last_seen_at = OffsetDateTimeField(allow_null=True)
    lag_seconds = serializers.IntegerField(
        help_text="Seconds since the oldest access change it has not reported (0: none)."
    )


class GatewayCreatedSerializer(GatewaySerializer):
    token = serializers.CharField(help_text="Its API token: shown this once, never again.")


class GatewayCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])


class ReceiptSerializer(StrictSerializer):
    revision = serializers.IntegerField(
        min_value=0, max_value=entitlements.MAX_ID, help_text="I enforce everything up to it."
    )


class EntrySerializer(serializers.Serializer):
    release = serializers.CharField(help_text="Release slug.")
    status = serializers.CharField()
    open_to = serializers.ChoiceField(choices=["everyone", "allowlist", "nobody"])
    us_only = serializers.BooleanField()
    allowed_partners = serializers.ListField(child=serializers.IntegerField())


class FeedSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    releases = EntrySerializer(many=True)


class SinceSerializer(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, max_value=entitlements.MAX_ID)


class GatewayAlertSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="An R16 alert kind, gateway_lagging, gateway_silent or webhook_disabled."
    )
    release = serializers.CharField(required=False)
    gateway = serializers.CharField(required=False)
    webhook = serializers.IntegerField(required=False, help_text="Webhook endpoint id (R31).")
    detail = serializers.CharField()


def _paginated(view, request, rows):
    return view.get_paginated_response(view.paginate_queryset(rows))


class GatewayList(ApiViewMixin, generics.GenericAPIView):
    """GET: every gateway and how far it is (auditors, admins). POST: register one (admins);
    the response carries its token, this once."""

    permission_classes = [IsAuthenticated, GatewayRegistry]
    serializer_class = GatewaySerializer
    queryset = Gateway.objects.none()  # rows come from enforcement.gateway_rows

    @extend_schema(responses={200: GatewaySerializer(many=True)})
    def get(self, request):
        rows = GatewaySerializer(enforcement.gateway_rows(), many=True).data
        return _paginated(self, request, rows)

    @extend_schema(request=GatewayCreateSerializer, responses={201: GatewayCreatedSerializer})
    def post(self, request):
        data = valid(GatewayCreateSerializer, request.data)
        gateway, token = services.create_gateway(actor=request.user, name=data["name"])
        [row] = enforcement.gateway_rows(Gateway.objects.filter(pk=gateway.pk))
        return Response(
            GatewayCreatedSerializer({**row, "token": token}).data, status=status.HTTP_201_CREATED
        )


class ReceiptView(ApiViewMixin, APIView):
    """R28: the gateway named in the path reports "I enforce everything up to revision N"."""

    permission_classes = [IsAuthenticated, GatewayOnly]

    @extend_schema(request=ReceiptSerializer, responses={200: GatewaySerializer})
    def post(self, request, name):
        refuse_nul(name)
        gateway = get_object_or_404(Gateway, name=name)
        try:
            data = valid(ReceiptSerializer, request.data)
            gateway = services.record_receipt(gateway, actor=request.user, **data)
        except (
            serializers.ValidationError,
            DjangoValidationError,
            ParseError,
            UnsupportedMediaType,
        ):
            # "Every call sets last_seen_at": a refused receipt still shows the gateway alive.
            services.note_gateway_seen(gateway, actor=request.user)
            raise
        [row] = enforcement.gateway_rows(Gateway.objects.filter(pk=gateway.pk))
        return Response(GatewaySerializer(row).data)


class EntitlementsView(APIView):
    """R27: every release's entry at one revision. ``ETag: "<revision>"``; ``If-None-Match``
    with the current revision → 304."""

    permission_classes = [IsAuthenticated, AccessReader]
    error_responses = ("401", "403")

    @extend_schema(responses={200: FeedSerializer, 304: OpenApiResponse(description="Unchanged.")})
    def get(self, request):
        etag = f'"{selectors.access_revision()}"'
        tags = _etags(request.headers.get("If-None-Match", ""))
        if etag in tags or "*" in tags:  # "*": any current feed (RFC 9110 13.1.2)
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        feed = entitlements.entitlement_snapshot()
        return Response(feed, headers={"ETag": f'"{feed["revision"]}"'})


def _etags(header: str) -> set[str]:
    """The entity tags of ``If-None-Match``, quoted, weak or not (a GET compares weakly,
    RFC 9110 13.1.2); a bare revision (``236``, as R27 words it) counts as ``"236"``."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
    return {f'"{tag}"' if tag.isascii() and tag.isdigit() else tag for tag in tags}


class EntitlementChangesView(APIView):
    """R27: the entries that differ from what they were at revision ``since``."""

    permission_classes = [IsAuthenticated, AccessReader]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since",
                {"type": "integer", "minimum": 0, "maximum": entitlements.MAX_ID},
                required=True,
                description="A revision.",
            )
        ],
        responses={200: FeedSerializer},
    )
    def get(self, request):
        since = valid(SinceSerializer, request.query_params)["since"]
        return Response(entitlements.entitlement_changes(since))


class AlertList(generics.GenericAPIView):
    """R16, R30 and R31: every current alert (compliance, gateway and webhook alerts)."""

    permission_classes = [IsAuthenticated, ReadAnyRoleWriteStaff]
    serializer_class = GatewayAlertSerializer
    queryset = Gateway.objects.none()  # alerts are computed, never stored (R16)
    error_responses = ("401", "403", "404")  # 404: a page beyond the last

    @extend_schema(responses={200: GatewayAlertSerializer(many=True)})
    def get(self, request):
        return _paginated(self, request, current_alerts())


class StreamUnderAsgi(APIView):
    """R27 stream: Server-Sent Events, served by ``uvicorn config.asgi:application``."""

    permission_classes = [IsAuthenticated, AccessReader]
    error_responses = ("401", "403", "404")

    @extend_schema(
        responses={
            200: OpenApiResponse(description="text/event-stream, under the ASGI server."),
            404: OpenApiResponse(DetailSerializer, description="Under a WSGI server."),
        }
    )
    def get(self, request):
        return Response(
            {"detail": "The stream is served by the ASGI server: uvicorn config.asgi:application."},
            status=status.HTTP_404_NOT_FOUND,
        )


def current_alerts() -> list[dict]:
    """Every current alert: R16's, then R30's, then R31's."""
    return selectors.compliance_alerts() + enforcement.gateway_alerts() + selectors.webhook_alerts()


urlpatterns = [
    path("gateways/", GatewayList.as_view(), name="gateway-list"),
    path("gateways/<str:name>/receipts/", ReceiptView.as_view(), name="gateway-receipts"),
    path("entitlements/", EntitlementsView.as_view(), name="entitlements"),
    path("entitlements/changes/", EntitlementChangesView.as_view(), name="entitlement-changes"),
    # Served by the ASGI server in front of Django (compliance/streams/asgi.py); under a
    # WSGI server this explains where it is.
    path("entitlements/stream/", StreamUnderAsgi.as_view(), name="entitlement-stream"),
    path("alerts/", AlertList.as_view(), name="alert-list"),
]
