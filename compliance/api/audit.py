"""Audit API (R23, R24): the log, its export, its verification, and one release's history.

Pagination is keyset (``?cursor=``, newest first), shared with the audit page: see
``compliance.audit.paging`` (a page costs an index range scan however deep it is; ``count``
is exact, tens of milliseconds for ~1M matches, see docs/audit.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from compliance.api.permissions import AuditReader, ReadAnyRoleWriteStaff
from compliance.api.streaming import stream_body
from compliance.api.views import refuse_nul
from compliance.audit import paging
from compliance.audit.export import CONTENT_TYPES, FORMATS, export_bytes
from compliance.audit.log import audit_item, audit_records, release_history_records
from compliance.audit.verify import verify_chain
from compliance.filters import AUDIT_FILTERS, OLDEST_FIRST, AuditRecordFilter
from compliance.models import AuditRecord, Release

PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        {"type": "string", "pattern": paging.CURSOR_PATTERN},
        description="from a next/previous link",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": paging.MAX_PAGE_SIZE},
        description=f"1–{paging.MAX_PAGE_SIZE}",
    ),
]


def keyset_page(request, queryset, *, unfiltered: bool = False) -> Response:
    """``{"count", "next", "previous", "results"}``: one page (``compliance.audit.paging``)
    with its cursors as links."""
    page = paging.keyset_page(
        queryset,
        cursor=request.query_params.get("cursor"),
        size=paging.page_size(request.query_params.get("page_size")),
        unfiltered=unfiltered,
        oldest_first=request.query_params.get("o") == OLDEST_FIRST,
    )
    url = request.build_absolute_uri()
    return Response(
        {
            "count": page.count,
            "next": replace_query_param(url, "cursor", page.forward) if page.forward else None,
            "previous": replace_query_param(url, "cursor", page.back) if page.back else None,
            "results": [audit_item(r) for r in page.rows],
        }
    )


class AuditFiltered(GenericAPIView):
    """The audit filters (``compliance.filters.AuditRecordFilter``, shared with the page and
    the command) read from the query string; the schema's parameters come from it too."""

    permission_classes = [IsAuthenticated, AuditReader]
    queryset = AuditRecord.objects.all()
    filterset_class = AuditRecordFilter
    pagination_class = None

    def records(self) -> QuerySet[AuditRecord]:
        return audit_records(**self.filter_params())

    def filter_params(self) -> dict:
        return {k: self.request.query_params.get(k) for k in AUDIT_FILTERS}


class AuditLogView(AuditFiltered):
    """GET /audit/: the whole log, filtered (auditors and admins)."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT, filters=True)
    def get(self, request):
        unfiltered = not any(v for k, v in self.filter_params().items() if k != "o")
        return keyset_page(request, self.records(), unfiltered=unfiltered)


class IgnoreFormatParameter(BaseContentNegotiation):
    """``?format=csv|jsonl`` names the export format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class AuditExportView(AuditFiltered):
    """GET /audit/export/?format=csv|jsonl&<filters>: streamed, constant memory."""

    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS), required=True)
        ],
        filters=True,
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
        },
    )
    def get(self, request):
        fmt = request.query_params.get("format") or ""
        errors = {}
        if fmt not in FORMATS:
            errors["format"] = [f"Must be one of: {', '.join(FORMATS)}."]
        try:
            records = self.records()
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        # Under ASGI too, a block at a time (a sync iterator would be read whole first).
        response = StreamingHttpResponse(
            stream_body(request, export_bytes(records, fmt)), content_type=CONTENT_TYPES[fmt]
        )
        response["Content-Disposition"] = f'attachment; filename="clearance-audit-{stamp}.{fmt}"'
        response["Cache-Control"] = "no-store"
        return response


class AuditVerifyView(APIView):
    """GET /audit/verify/: R23, ``{"ok", "checked", "broken"}``, and ``"checkpoint"``."""

    permission_classes = [IsAuthenticated, AuditReader]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from compliance.audit.consistency import check_latest

        result = verify_chain()
        # R34: and the latest signed checkpoint against the ledger, once there is one (the
        # R23 shape is unchanged until then).
        checkpoint = check_latest()
        if checkpoint is not None:
            result["checkpoint"] = checkpoint
            result["ok"] = result["ok"] and checkpoint["ok"]
        return Response(result)


class ReleaseHistoryView(APIView):
    """GET /releases/{slug}/history/: the release, its sign-offs, allowlist entries and the
    requests that named it. Readable by every role: it shows nothing a role cannot already
    read about the release, only the who/when/why of it."""

    permission_classes = [IsAuthenticated, ReadAnyRoleWriteStaff]
    http_method_names = ["get", "head", "options"]

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str):
        refuse_nul(slug)
        release = get_object_or_404(Release, slug=slug)
        return keyset_page(request, release_history_records(release))


urlpatterns = [
    path("audit/", AuditLogView.as_view(), name="audit-list"),
    path("audit/export/", AuditExportView.as_view(), name="audit-export"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit-verify"),
    path("releases/<str:slug>/history/", ReleaseHistoryView.as_view(), name="release-history"),
]
