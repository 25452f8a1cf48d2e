from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from compliance.web import oidc

# Django's own 400s (an oversize body, …) are JSON on API paths, like every API answer.
handler400 = "compliance.api.exceptions.bad_request"

urlpatterns = [
    # OIDC_ONLY: the admin's password form gives way to the login page (single sign-on).
    path("admin/login/", oidc.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include("compliance.api.urls")),
    path("", include("compliance.api.authzen")),
    path("", include("compliance.web.urls")),
]

if settings.CLEARANCE_BENCH:
    # make bench only: the bare baseline views (benchmarks/views.py), never in production.
    urlpatterns.insert(0, path("api/v1/_bench/", include("benchmarks.views")))
