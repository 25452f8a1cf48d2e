from django.urls import include, path

app_name = "api"
urlpatterns: list = [
    path("", include("compliance.api.reminders")),
    path("", include("compliance.api.audit")),
]
