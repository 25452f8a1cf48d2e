"""/api/v1/ routes. Other API modules add their own ``path("", include(...))`` lines below."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from compliance.api import views
from compliance.api.permissions import ReadAnyRoleWriteStaff

app_name = "api"

router = SimpleRouter()
router.register("agencies", views.AgencyViewSet, basename="agency")
router.register("partners", views.PartnerViewSet, basename="partner")
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("signoffs", views.SignOffViewSet, basename="signoff")
router.register("requests", views.GovernmentRequestViewSet, basename="request")
router.register("allowlist", views.AllowlistViewSet, basename="allowlist")
router.register("auth/tokens", views.ApiTokenViewSet, basename="token-admin")

router.register("webhooks", views.WebhookViewSet, basename="webhook")

# Nothing is readable anonymously, the schema and its docs included: any role (a session or
# a token) reads them. The Swagger UI assets are served locally (drf-spectacular-sidecar).
docs_permissions = [ReadAnyRoleWriteStaff]

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path(
        "schema/",
        SpectacularJSONAPIView.as_view(permission_classes=docs_permissions),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            permission_classes=docs_permissions,
            template_name="compliance/api/swagger_ui.html",
        ),
        name="docs",
    ),
    # Before the router: its release detail route would otherwise see these first.
    path("reminders/", views.ReminderList.as_view(), name="reminder-list"),
    path("", include("compliance.api.audit")),
    path("", include("compliance.api.transparency")),
    path("", include("compliance.api.gateways")),
    # Before the router: /releases/{slug}/evidence-pack/ and /requests/{id}/evidence-pack/.
    path("", include("compliance.api.evidence")),
    path("", include(router.urls)),
]
