from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("compliance.api.urls")),
    path("", include("compliance.api.authzen")),
    path("", include("compliance.web.urls")),
]

if settings.CLEARANCE_BENCH:
    # make bench only: the bare baseline views (benchmarks/views.py), never in production.
    urlpatterns.insert(0, path("api/v1/_bench/", include("benchmarks.views")))
