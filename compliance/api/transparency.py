"""Transparency log API (R34–R36): checkpoints, proofs, the verifier key, witnesses and
their cosignatures. Readable by every role (a checkpoint is meant to be handed out);
witnesses are registered by admins; a cosignature may be posted by anyone signed in,
since only its signature decides whether it is kept."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import services
from compliance.api.audit import IgnoreFormatParameter
from compliance.api.permissions import AccessReader, ReadWrite
from compliance.api.serializers import StrictSerializer
from compliance.audit import checkpoints, tree
from compliance.models import AuditCheckpoint, AuditWitness
from compliance.models.roles import can_read_access, is_admin

TEXT = "text/plain; charset=utf-8"


class WitnessRegistry(ReadWrite):
    """Every role lists witnesses (their public keys); admins register them."""

    read = staticmethod(can_read_access)
    write = staticmethod(is_admin)


class TransparencyView(APIView):
    # Every role signed in, the gateway role included (R34: checkpoints, proofs, the key).
    permission_classes = [IsAuthenticated, AccessReader]
    # Text answers (notes, keys): an Accept of text/plain must not be a 406.
    content_negotiation_class = IgnoreFormatParameter


class LatestCheckpointView(TransparencyView):
    """GET /audit/checkpoint/: the latest checkpoint note with every cosignature line."""

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR, 404: OpenApiTypes.OBJECT})
    def get(self, request):
        note = checkpoints.latest_note()
        if note is None:  # none signed yet (beat has not run): sign the first one now
            note = checkpoints.first_note()
        if note is None:
            raise Http404("No checkpoint yet.")
        return HttpResponse(note, content_type=TEXT)


MAX_SIZE = 2**63 - 1  # the column's range: a larger size names no checkpoint (a 404)


def _checkpoint(size: str) -> AuditCheckpoint:
    """The checkpoint of that size; anything that names none (junk, out of range) a 404."""
    if not size.isascii() or not size.isdigit() or int(size) > MAX_SIZE:
        raise Http404("No such checkpoint.")
    return get_object_or_404(AuditCheckpoint, tree_size=int(size))


class CheckpointView(TransparencyView):
    """GET /audit/checkpoints/{size}/: one checkpoint as JSON."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, size: str):
        return Response(checkpoints.checkpoint_json(_checkpoint(size)))


class CosignatureView(TransparencyView):
    """POST /audit/checkpoints/{size}/cosignatures/ (text/plain): a witness's cosignature."""

    @extend_schema(request={"text/plain": OpenApiTypes.STR}, responses=OpenApiTypes.OBJECT)
    def post(self, request, size: str):
        checkpoint = _checkpoint(size)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        services.add_cosignatures(checkpoint, text=text, actor=request.user)
        return Response(checkpoints.checkpoint_json(checkpoint), status=201)


class VerifierKeyView(TransparencyView):
    """GET /audit/verifier-key/: the log's note verifier key (text/plain)."""

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR, 404: OpenApiTypes.OBJECT})
    def get(self, request):
        try:
            key = checkpoints.verifier_key()
        except ImproperlyConfigured:  # no signing key on this server: no key, no checkpoints
            raise Http404("No checkpoint signing key is configured.") from None
        return HttpResponse(key + "\n", content_type=TEXT)


class InclusionProofView(TransparencyView):
    """GET /audit/proof/inclusion/?seq=N&tree_size=M (RFC 9162 2.1.3)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("seq", OpenApiTypes.INT, required=True),
            OpenApiParameter("tree_size", OpenApiTypes.INT, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(tree.inclusion_proof(params.get("seq"), params.get("tree_size")))


class ConsistencyProofView(TransparencyView):
    """GET /audit/proof/consistency/?from=A&to=B (RFC 9162 2.1.4)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.INT, required=True),
            OpenApiParameter("to", OpenApiTypes.INT, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(tree.consistency_proof(params.get("from"), params.get("to")))


class WitnessSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditWitness
        fields = ["id", "name", "verifier_key", "created_at"]
        read_only_fields = ["id", "created_at"]


class WitnessRegistrationSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    verifier_key = serializers.CharField(max_length=400)


class WitnessListView(APIView):
    """GET, POST /audit/witnesses/ (R36): list (every role), register (admins)."""

    permission_classes = [IsAuthenticated, WitnessRegistry]

    @extend_schema(responses=WitnessSerializer(many=True))
    def get(self, request):
        return Response(WitnessSerializer(AuditWitness.objects.all(), many=True).data)

    @extend_schema(request=WitnessRegistrationSerializer, responses=WitnessSerializer)
    def post(self, request):
        form = WitnessRegistrationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        witness = services.register_witness(actor=request.user, **form.validated_data)
        return Response(WitnessSerializer(witness).data, status=201)


urlpatterns = [
    path("audit/checkpoint/", LatestCheckpointView.as_view(), name="audit-checkpoint"),
    path("audit/checkpoints/<str:size>/", CheckpointView.as_view(), name="audit-checkpoint-detail"),
    path(
        "audit/checkpoints/<str:size>/cosignatures/",
        CosignatureView.as_view(),
        name="audit-cosignatures",
    ),
    path("audit/verifier-key/", VerifierKeyView.as_view(), name="audit-verifier-key"),
    path("audit/proof/inclusion/", InclusionProofView.as_view(), name="audit-proof-inclusion"),
    path(
        "audit/proof/consistency/", ConsistencyProofView.as_view(), name="audit-proof-consistency"
    ),
    path("audit/witnesses/", WitnessListView.as_view(), name="audit-witnesses"),
]
