from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("compliance.api.urls")),
    path("", include("compliance.web.urls")),
]
