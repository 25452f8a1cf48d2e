"""Audit API (R23, R24): the log, its export, its verification, and one release's history.

Pagination is keyset (``?cursor=``, newest first): a page costs an index range scan however
deep it is, where OFFSET would read and discard every earlier row. ``count`` is exact: for
the unfiltered log it is the head's sequence number (gap-free by construction, checked by
verify), otherwise a COUNT(*) over the filtered set, which an index on each filter keeps to
an index-only scan of the matching rows (tens of milliseconds for ~1M matches; see
docs/audit.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from compliance.api.permissions import AuditReader, ReadAnyRoleWriteStaff
from compliance.api.views import refuse_nul
from compliance.audit.export import CONTENT_TYPES, FORMATS, iter_export
from compliance.audit.log import (
    FILTERS,
    audit_item,
    audit_records,
    release_history_records,
)
from compliance.audit.verify import verify_chain
from compliance.models import AuditRecord, Release

PAGE_SIZE = 50
SMALL_SET = 20_000
MAX_PAGE_SIZE = 500

FILTER_PARAMETERS = [
    OpenApiParameter("model", OpenApiTypes.STR, description="lower-case model name"),
    OpenApiParameter("object_id", OpenApiTypes.STR),
    OpenApiParameter("user", OpenApiTypes.STR, description="username or system:<task>"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="inclusive"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="exclusive"),
    OpenApiParameter("action", OpenApiTypes.STR, enum=["created", "changed", "deleted"]),
]
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="from a next/previous link"),
    OpenApiParameter("page_size", OpenApiTypes.INT, description=f"1–{MAX_PAGE_SIZE}"),
]


def _filters(request) -> dict:
    return {k: request.query_params.get(k) for k in FILTERS}


def keyset_page(request, queryset, *, unfiltered: bool = False) -> Response:
    """``{"count", "next", "previous", "results"}`` over ``queryset`` (newest first).
    ``cursor=b<seq>``: older than seq; ``cursor=a<seq>``: newer than seq."""
    try:
        size = int(request.query_params.get("page_size") or PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError
    except ValueError:
        raise ValidationError(
            {"page_size": [f"Must be an integer from 1 to {MAX_PAGE_SIZE}."]}
        ) from None
    cursor = request.query_params.get("cursor") or ""
    try:
        direction, seq = (cursor[0], int(cursor[1:])) if cursor else ("", 0)
        if direction not in ("", "a", "b"):
            raise ValueError
    except ValueError:
        raise ValidationError({"cursor": ["Invalid cursor."]}) from None

    if unfiltered:
        count = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    else:
        count = queryset.count()
    # A small filtered set far from the head of the log: reading the primary key backwards
    # would skip most of the log to find it. Ordering by an expression makes PostgreSQL
    # take the filter's own index and sort the few matches instead.
    key = F("seq") if unfiltered or count > SMALL_SET else F("seq") + 0
    if direction == "a":
        rows = list(queryset.filter(seq__gt=seq).order_by(key.asc())[: size + 1])
        more_newer, rows = len(rows) > size, rows[:size]
        rows.reverse()
        more_older = bool(rows) and queryset.filter(seq__lt=rows[-1].seq).exists()
    else:
        page = queryset.filter(seq__lt=seq) if direction == "b" else queryset
        rows = list(page.order_by(key.desc())[: size + 1])
        more_older, rows = len(rows) > size, rows[:size]
        more_newer = (
            bool(direction) and bool(rows) and queryset.filter(seq__gt=rows[0].seq).exists()
        )

    url = request.build_absolute_uri()
    return Response(
        {
            "count": count,
            "next": replace_query_param(url, "cursor", f"b{rows[-1].seq}") if more_older else None,
            "previous": (
                (replace_query_param(url, "cursor", f"a{rows[0].seq}") if rows else None)
                if more_newer
                else None
            ),
            "results": [audit_item(r) for r in rows],
        }
    )


class AuditLogView(APIView):
    """GET /audit/: the whole log, filtered (auditors and admins)."""

    permission_classes = [IsAuthenticated, AuditReader]

    @extend_schema(parameters=FILTER_PARAMETERS + PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        filters = _filters(request)
        records = audit_records(**filters)
        unfiltered = not any(filters.values())
        return keyset_page(request, records, unfiltered=unfiltered)


class IgnoreFormatParameter(BaseContentNegotiation):
    """``?format=csv|jsonl`` names the export format here, not a DRF renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class AuditExportView(APIView):
    """GET /audit/export/?format=csv|jsonl&<filters>: streamed, constant memory."""

    permission_classes = [IsAuthenticated, AuditReader]
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS))]
        + FILTER_PARAMETERS,
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
            records = audit_records(**_filters(request))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(iter_export(records, fmt), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="clearance-audit-{stamp}.{fmt}"'
        response["Cache-Control"] = "no-store"
        return response


class AuditVerifyView(APIView):
    """GET /audit/verify/: R23, ``{"ok", "checked", "broken"}``."""

    permission_classes = [IsAuthenticated, AuditReader]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(verify_chain())


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
