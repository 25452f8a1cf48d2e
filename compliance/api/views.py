"""REST API v1 views. Thin: validate with a serializer, call one service or selector,
serialize. Rule refusals (409), validation (400) and role refusals (403) are turned into HTTP
by the one exception handler in ``compliance.api.exceptions``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from compliance import filters, selectors, services
from compliance.api import serializers as s
from compliance.api.permissions import (
    AccessReader,
    AuditReader,
    NotGateway,
    ReadAnyRoleWriteAdmin,
    ReadAnyRoleWriteStaff,
)
from compliance.audit.timetravel import release_gate_as_of
from compliance.enforcement import release_enforcement, request_enforcement
from compliance.models import (
    Agency,
    AllowlistEntry,
    GovernmentRequest,
    Partner,
    Release,
    SignOff,
    WebhookEndpoint,
)
from compliance.models.roles import is_admin
from compliance.services import users
from compliance.services.users import issue_token
from compliance.signin import client_address, password_login_detail

STAFF = [IsAuthenticated, ReadAnyRoleWriteStaff]
ADMIN = [IsAuthenticated, ReadAnyRoleWriteAdmin]
READ_WRITE = ["get", "post", "patch", "head", "options"]
SERIALIZED = ("retrieve", "partial_update")
SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Release slug.")
ALLOWLIST = AllowlistEntry.objects.select_related(
    "release", "partner", "proposed_by", "decided_by", "vetted_by"
).prefetch_related("documents")


def refuse_nul(value) -> None:
    """A lookup value PostgreSQL cannot even compare (a NUL character) is simply unknown."""
    if "\x00" in str(value):
        raise Http404


class ApiViewMixin:
    """JSON in (SPEC: "JSON under /api/v1/"; form posts would read a missing list as empty).
    Any path segment reaches the view (DRF's default pattern refuses dots, which would
    give Django's HTML 404 instead of the API's JSON one)."""

    lookup_value_regex = "[^/]+"
    parser_classes = [JSONParser]

    def get_object(self):
        refuse_nul(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        return super().get_object()


def valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ServiceViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Create and partial update through a service. ``create_service(actor=, **data)`` and
    ``update_service(instance, actor=, **changes)`` are set per resource."""

    create_service = None
    update_service = None
    update_serializer_class = None

    def get_serializer_class(self):
        if self.action == "partial_update" and self.update_serializer_class:
            return self.update_serializer_class
        return super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_service(actor=request.user, **serializer.validated_data)
        return Response(self.render(instance), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        instance = self.update_service(
            serializer.instance, actor=request.user, **serializer.validated_data
        )
        return Response(self.render(instance))

    def render(self, instance) -> dict:
        instance = self.get_queryset().get(pk=instance.pk)  # fresh, with its relations loaded
        return self.serializer_class(instance, context=self.get_serializer_context()).data


# --- Auth -------------------------------------------------------------------------------


class ClientAddressRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle keyed on the client's real address (``NUM_PROXIES``, never a
    client-chosen X-Forwarded-For), counted in the shared cache (CACHES), so the limit is
    one limit across every worker process."""

    def get_ident(self, request):
        return client_address(request._request)


class TokenView(APIView):
    """POST /auth/token/: username and password → a new API token."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [ClientAddressRateThrottle]
    throttle_scope = "token"
    parser_classes = [JSONParser]
    error_responses = ("400", "401", "403", "429")

    @extend_schema(
        request=s.TokenRequestSerializer,
        responses={200: s.TokenSerializer},
        auth=[],
        summary="Exchange a username and password for an API token",
        description="Wrong credentials or an inactive user: 401. Missing or malformed "
        "fields: 400. Throttled per client address (scope `token`), or locked out after "
        "repeated failures for this username from this address or for any usernames from "
        "this address (django-axes): 429 with `Retry-After`. Password sign-in turned off "
        "(`OIDC_ONLY=true`, single sign-on only): 403, whatever the body.",
    )
    def post(self, request):
        if settings.OIDC_ONLY:
            raise PermissionDenied(password_login_detail())
        data = valid(s.TokenRequestSerializer, request.data)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise AuthenticationFailed("Invalid username or password.")
        return Response({"token": issue_token(user)})

    def get_authenticate_header(self, request):
        # No authentication class here, yet a 401 must stay a 401 (DRF turns it into 403
        # without a WWW-Authenticate challenge).
        return "Token"


class LogoutView(APIView):
    """POST /auth/logout/: revoke the token this request came with (a session: sign out)."""

    permission_classes = [IsAuthenticated, NotGateway]
    parser_classes = [JSONParser]
    error_responses = ("401", "403")

    @extend_schema(request=None, responses={204: None}, summary="Revoke this token")
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            users.revoke_token(request.auth, actor=request.user)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(ApiViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET /auth/tokens/: your own tokens (admins: everyone's, ``?user=`` to narrow);
    DELETE /auth/tokens/{id}/: revoke one. Only digests are stored: a token's id is its
    digest, and the token itself is never shown again."""

    serializer_class = s.ApiTokenSerializer
    permission_classes = [IsAuthenticated, NotGateway]
    lookup_field = "digest"
    lookup_url_kwarg = "id"
    http_method_names = ["get", "delete", "head", "options"]
    error_responses = ("400", "401", "404")

    def get_queryset(self):
        username = None
        if self.action == "list":
            username = valid(s.ApiTokenQuerySerializer, self.request.query_params).get("user")
        return selectors.api_tokens(viewer=self.request.user, username=username)

    @extend_schema(parameters=[s.ApiTokenQuerySerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, description="Token id.")],
        responses={204: None},
    )
    def destroy(self, request, *args, **kwargs):
        users.revoke_token(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Agencies and partners --------------------------------------------------------------


class AgencyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet
):  # GET, POST /agencies/; GET, PATCH /agencies/{code}/
    queryset = Agency.objects.all()
    serializer_class = s.AgencySerializer
    update_serializer_class = s.AgencyUpdateSerializer
    filterset_class = filters.AgencyFilter
    permission_classes = ADMIN
    lookup_field = "code"
    http_method_names = READ_WRITE
    create_service = staticmethod(services.create_agency)
    update_service = staticmethod(services.update_agency)


class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = Partner.objects.all()
    serializer_class = s.PartnerSerializer
    filterset_class = filters.PartnerFilter
    permission_classes = ADMIN
    http_method_names = READ_WRITE
    create_service = staticmethod(services.create_partner)
    update_service = staticmethod(services.update_partner)


# --- Releases ---------------------------------------------------------------------------


class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = Release.objects.select_related("owner").prefetch_related("required_agencies")
    serializer_class = s.ReleaseSerializer
    update_serializer_class = s.ReleaseUpdateSerializer
    filterset_class = filters.ReleaseFilter
    permission_classes = STAFF
    lookup_field = "slug"
    http_method_names = READ_WRITE
    create_service = staticmethod(services.create_release)
    update_service = staticmethod(services.update_release)

    def get_object(self):
        # A release is found by its slug alone: list filters never apply to the lookup, and
        # the read models load only the row (their selector loads the rest).
        slug = self.kwargs["slug"]
        refuse_nul(slug)
        queryset = super().get_queryset() if self.action in SERIALIZED else Release.objects
        release = get_object_or_404(queryset, slug=slug)
        self.check_object_permissions(self.request, release)
        return release

    @extend_schema(request=s.SubmitSerializer, responses={200: s.ReleaseSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, slug=None):
        """R1: draft or suspended → in_review, opening a new review round."""
        release = self.get_object()
        data = valid(s.SubmitSerializer, request.data)
        release = services.submit_release(release, actor=request.user, **data)
        return Response(self.render(release))

    @extend_schema(request=s.TransitionSerializer, responses={200: s.ReleaseSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, slug=None):
        """R2–R6: move the release to ``to`` if every rule allows it."""
        release = self.get_object()
        data = valid(s.TransitionSerializer, request.data)
        release = services.transition_release(release, actor=request.user, **data)
        return Response(self.render(release))

    @extend_schema(
        request=None,
        parameters=[s.GateQuerySerializer],
        responses={200: s.GateAsOfSerializer},
    )
    @action(detail=True, methods=["get"])
    def gate(self, request, slug=None):
        """R2/R3 gate: each stage's sign-offs and blockers, and the release's alerts (R16).
        With ``?as_of=`` the gate and the allowlist as they stood then, from history."""
        release = self.get_object()
        as_of = valid(s.GateQuerySerializer, request.query_params).get("as_of")
        if as_of is None:
            gate = selectors.release_gate(release)
            enforcement = release_enforcement(release)
            if enforcement is not None:  # times with an explicit offset, like the rest
                enforcement = s.EnforcementSerializer(enforcement).data
            return Response({**gate, "enforcement": enforcement})
        try:
            return Response(release_gate_as_of(release, as_of))
        except Release.DoesNotExist as exc:
            raise NotFound(str(exc)) from exc

    @extend_schema(
        request=None,
        parameters=[s.AccessQuerySerializer],
        responses={200: s.AccessSerializer},
    )
    # A gateway token may call this one (R25): every role reads access decisions.
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated, AccessReader])
    def access(self, request, slug=None):
        """R15: may this partner use the release now, and why."""
        refuse_nul(slug)
        query = s.AccessQuerySerializer(data=request.query_params)
        if not query.is_valid():
            self.get_object()  # an unknown release is a 404 before a bad query is a 400
            raise ValidationError(query.errors)
        # One query for the release, the partner and its entry (the API's hot path).
        answer = selectors.check_access_by_keys(slug, query.validated_data["partner"])
        if answer is None:
            raise Http404("No release or partner matches the given query.")
        return Response(answer)

    @extend_schema(
        request=None,
        parameters=[s.DeployCheckQuerySerializer],
        responses={200: s.DeployCheckSerializer},
    )
    @action(detail=True, methods=["get"], url_path="deploy-check")
    def deploy_check(self, request, slug=None):
        """R32: may these artifacts be deployed at this stage now? ``allowed`` with every
        blocker (``stage_not_released``, ``digest_mismatch``, ``digest_required``)."""
        with selectors.snapshot():
            release = self.get_object()  # an unknown release is a 404 before a bad query a 400
            query = valid(s.DeployCheckQuerySerializer, request.query_params)
            answer = selectors.deploy_check(
                release, stage=query["stage"], digest=query.get("digest")
            )
        return Response(answer)

    @extend_schema(
        methods=["GET"],
        parameters=[SLUG],
        request=None,
        responses={200: s.AllowlistEntrySerializer(many=True)},
        filters=True,
    )
    @extend_schema(
        methods=["POST"],
        parameters=[SLUG],
        request=s.AllowlistProposeSerializer,
        responses={201: s.AllowlistEntrySerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filterset_class=filters.AllowlistEntryFilter,
        queryset=ALLOWLIST,
    )
    def allowlist(self, request, slug=None):
        """List the release's allowlist, or propose a partner for it (R14)."""
        release = self.get_object()
        if request.method == "POST":
            data = valid(s.AllowlistProposeSerializer, request.data)
            entry = services.propose_allowlist_entry(release, actor=request.user, **data)
            entry = self.get_queryset().get(pk=entry.pk)
            return Response(s.AllowlistEntrySerializer(entry).data, status=201)
        entries = self.filter_queryset(self.get_queryset().filter(release=release))
        page = self.paginator.paginate_queryset(entries, request, view=self)
        return self.paginator.get_paginated_response(
            s.AllowlistEntrySerializer(page, many=True).data
        )


# --- Sign-offs --------------------------------------------------------------------------


class SignOffViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    queryset = SignOff.objects.select_related("release", "agency", "recorded_by").prefetch_related(
        "documents"
    )
    serializer_class = s.SignOffSerializer
    filterset_class = filters.SignOffFilter
    permission_classes = STAFF

    @extend_schema(request=s.SignOffDecisionSerializer, responses={200: s.SignOffSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """R9: approve (evidence required) or reject (reason required) a pending sign-off."""
        signoff = self.get_object()
        data = valid(s.SignOffDecisionSerializer, request.data)
        signoff = services.decide_signoff(signoff, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=signoff.pk)).data)

    @extend_schema(request=s.ReasonSerializer, responses={200: s.SignOffSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """R10: the agency took its approval back (reason required)."""
        signoff = self.get_object()
        data = valid(s.ReasonSerializer, request.data)
        signoff = services.withdraw_signoff(signoff, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=signoff.pk)).data)


# --- Government requests ----------------------------------------------------------------


class GovernmentRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    queryset = GovernmentRequest.objects.select_related("agency", "assignee").prefetch_related(
        "releases", "documents"
    )
    serializer_class = s.GovernmentRequestSerializer
    update_serializer_class = s.GovernmentRequestUpdateSerializer
    filterset_class = filters.GovernmentRequestFilter
    permission_classes = STAFF
    http_method_names = READ_WRITE
    create_service = staticmethod(services.record_request)
    update_service = staticmethod(services.update_request)

    @extend_schema(responses={200: s.GovernmentRequestDetailSerializer})
    def retrieve(self, request, *args, **kwargs):
        """The request, with R29's enforcement of the access changes on its releases while it
        was in force and ``time_to_enforce`` (seconds; null while any is pending)."""
        obj = self.get_object()
        rows, seconds = request_enforcement(obj)
        return Response(
            {
                **self.get_serializer(obj).data,
                "enforcement": s.RequestEnforcementSerializer(rows, many=True).data,
                "time_to_enforce": seconds,
            }
        )

    @extend_schema(
        request=s.RequestStatusSerializer, responses={200: s.GovernmentRequestSerializer}
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        """R12: open → acknowledged → complied | contested → closed."""
        obj = self.get_object()
        data = valid(s.RequestStatusSerializer, request.data)
        obj = services.set_request_status(obj, actor=request.user, **data)
        return Response(self.render(obj))


# --- Allowlist decisions ----------------------------------------------------------------


class AllowlistViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """POST /allowlist/{id}/decide/ and /allowlist/{id}/revoke/: admins only (R14)."""

    queryset = ALLOWLIST
    serializer_class = s.AllowlistEntrySerializer
    permission_classes = ADMIN

    @extend_schema(
        request=s.AllowlistDecisionSerializer, responses={200: s.AllowlistEntrySerializer}
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """R14: approve or reject a proposed partner (not by its proposer)."""
        entry = self.get_object()
        data = valid(s.AllowlistDecisionSerializer, request.data)
        entry = services.decide_allowlist_entry(entry, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=entry.pk)).data)

    @extend_schema(request=s.ReasonSerializer, responses={200: s.AllowlistEntrySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """R14: revoke an approved partner, with a reason."""
        entry = self.get_object()
        data = valid(s.ReasonSerializer, request.data)
        entry = services.revoke_allowlist_entry(entry, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=entry.pk)).data)


# --- Reminders --------------------------------------------------------------------------


class ReminderList(generics.ListAPIView):
    """GET /reminders/: every reminder and notification e-mail sent, newest first (R19;
    auditors and admins)."""

    queryset = selectors.sent_reminders()
    serializer_class = s.ReminderSerializer
    permission_classes = [IsAuthenticated, AuditReader]
    filterset_class = filters.ReminderFilter


__all__ = [
    "AgencyViewSet",
    "ApiTokenViewSet",
    "LogoutView",
    "AllowlistViewSet",
    "GovernmentRequestViewSet",
    "PartnerViewSet",
    "ReleaseViewSet",
    "ReminderList",
    "SignOffViewSet",
    "TokenView",
]


# --- Webhooks (R31) ---------------------------------------------------------------------


class AdminOnly(IsAuthenticated):
    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and is_admin(request.user)


class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Admins register endpoints; the secret is shown on create and on rotate only."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = s.WebhookSerializer
    update_serializer_class = s.WebhookUpdateSerializer
    permission_classes = [AdminOnly]
    http_method_names = READ_WRITE
    update_service = staticmethod(services.update_webhook)

    @extend_schema(request=s.WebhookSerializer, responses={201: s.WebhookWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        data = valid(s.WebhookSerializer, request.data)
        endpoint, secret = services.create_webhook(actor=request.user, **data)
        body = {**self.render(endpoint), "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.WebhookWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, effective from the next attempt; shown this once."""
        endpoint, secret = services.rotate_webhook_secret(self.get_object(), actor=request.user)
        return Response({**self.render(endpoint), "secret": secret})

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a ``ping`` event now (through the outbox, like every event)."""
        delivery = services.send_test_ping(self.get_object(), actor=request.user)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The delivery log, newest first, each with its attempts."""
        endpoint = self.get_object()
        page = self.paginate_queryset(
            endpoint.deliveries.prefetch_related("log").order_by("-created_at", "-id")
        )
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)
