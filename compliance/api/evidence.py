"""Evidence API (R37–R39): documents, their download, and evidence packs.

Uploads are multipart (``file``, ``title``, ``kind``, …); edits are JSON (metadata and links
only). The download is always an attachment with ``nosniff``, a type Clearance itself read
from the bytes, and a sandboxing CSP: a browser never renders an upload in the app's origin."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from compliance import filters
from compliance.api import serializers as s
from compliance.api.permissions import AuditReader
from compliance.api.streaming import is_asgi, stream_body
from compliance.api.views import STAFF, ServiceViewSet, refuse_nul
from compliance.audit import pack, pack_log
from compliance.models import EvidenceDocument, GovernmentRequest, Release
from compliance.services.evidence import too_large_message, update_evidence, upload_evidence

DOCUMENTS = EvidenceDocument.objects.select_related("agency", "uploaded_by").prefetch_related(
    "releases", "requests", "signoffs", "allowlist_entries", "superseded_by"
)
# Types served under their own name; anything else (never stored, but a hand-edited row could
# say so) is served as bytes.
SAFE_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "message/rfc822",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
}


def safe_content_type(content_type: str) -> str:
    if content_type == "text/plain":
        return "text/plain; charset=utf-8"
    return content_type if content_type in SAFE_TYPES else "application/octet-stream"


def download_response(document: EvidenceDocument, request=None) -> FileResponse:
    """The stored bytes as an attachment, streamed in chunks (shared with the pages)."""
    try:
        stream = default_storage.open(document.file.name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The document's bytes are missing from storage.") from exc
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=document.original_name or f"document-{document.pk}",
        content_type=safe_content_type(document.content_type),
    )
    if request is not None and is_asgi(request):
        response.streaming_content = stream_body(request, _chunks(stream))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["X-Evidence-SHA256"] = document.sha256
    return response


# Room for the multipart framing and the metadata fields around the file itself.
FORM_OVERHEAD = 64 * 1024


def refuse_oversized_body(request) -> None:
    """A body that announces more than a document may be is refused before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.EVIDENCE_MAX_BYTES + FORM_OVERHEAD:
        raise ValidationError({"file": [too_large_message()]})


def _chunks(stream, size: int = 1024 * 1024) -> Iterator[bytes]:
    with stream:
        yield from iter(lambda: stream.read(size), b"")


class EvidenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """GET, POST /evidence/ (POST multipart: staff and admins); GET, PATCH /evidence/{id}/."""

    queryset = DOCUMENTS
    serializer_class = s.EvidenceDocumentSerializer
    update_serializer_class = s.EvidenceUpdateSerializer
    filterset_class = filters.EvidenceDocumentFilter
    permission_classes = STAFF
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]
    update_service = staticmethod(update_evidence)

    def get_serializer_class(self):
        if self.action == "create":
            return s.EvidenceUploadSerializer
        return super().get_serializer_class()

    @extend_schema(
        request={"multipart/form-data": s.EvidenceUploadSerializer},
        responses={201: s.EvidenceDocumentSerializer, 200: s.EvidenceDocumentSerializer},
    )
    def create(self, request, *args, **kwargs):
        """R37: upload a document. The same bytes again give the existing document (200)."""
        refuse_oversized_body(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document, created = upload_evidence(actor=request.user, **serializer.validated_data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.render(document), status=code)

    @extend_schema(
        request=s.EvidenceUpdateSerializer, responses={200: s.EvidenceDocumentSerializer}
    )
    def partial_update(self, request, *args, **kwargs):
        """Metadata and links only: the bytes never change (a new version ``supersedes``)."""
        return super().partial_update(request, *args, **kwargs)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def file(self, request, pk=None):
        """The document's bytes, as an attachment (every role)."""
        return download_response(self.get_object(), request)


class EvidencePackView(APIView):
    """R39: GET /releases/{slug}/evidence-pack/ and /requests/{id}/evidence-pack/ (auditors
    and admins): a zip streamed as it is built (see ``compliance.audit.pack``)."""

    permission_classes = [IsAuthenticated, AuditReader]
    lookup = ""

    def subject(self, key):
        raise NotImplementedError

    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY, 503: s.DetailSerializer}
    )
    def get(self, request, **kwargs):
        key = kwargs[self.lookup]
        refuse_nul(key)
        subject, records, documents, label = self.subject(key)
        try:  # before the first byte: a log that cannot sign is an answer, not a cut stream
            checkpoint = pack_log.pack_checkpoint()
        except ImproperlyConfigured as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        body = pack.evidence_pack(
            subject=subject,
            records=records,
            documents=documents,
            actor=request.user,
            checkpoint=checkpoint,
        )
        response = StreamingHttpResponse(stream_body(request, body), content_type="application/zip")
        filename = f"evidence-pack-{label}-{stamp}.zip"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class ReleasePackView(EvidencePackView):
    lookup = "slug"

    def subject(self, key):
        release = get_object_or_404(Release, slug=key)
        subject = {"type": "release", "slug": release.slug, "id": release.pk}
        return (
            subject,
            pack.release_pack_records(release),
            pack.release_documents(release),
            re.sub(r"[^A-Za-z0-9_-]", "_", release.slug),
        )


class RequestPackView(EvidencePackView):
    lookup = "id"

    def subject(self, key):
        if not str(key).isdigit():
            raise Http404
        obj = get_object_or_404(GovernmentRequest.objects.select_related("agency"), pk=key)
        subject = {
            "type": "request",
            "id": obj.pk,
            "agency": obj.agency.code,
            "reference": obj.reference,
        }
        return (
            subject,
            pack.request_pack_records(obj),
            pack.request_documents(obj),
            f"request-{obj.pk}",
        )


router = SimpleRouter()
router.register("evidence", EvidenceViewSet, basename="evidence")

urlpatterns = [
    path(
        "releases/<str:slug>/evidence-pack/",
        ReleasePackView.as_view(),
        name="release-evidence-pack",
    ),
    path(
        "requests/<str:id>/evidence-pack/", RequestPackView.as_view(), name="request-evidence-pack"
    ),
    path("", include(router.urls)),
]
