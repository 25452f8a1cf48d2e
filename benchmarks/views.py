"""The baseline the API is measured against (issue 8): the cheapest JSON answers the same
server can give. Mounted only when ``CLEARANCE_BENCH=1`` (see config/urls.py)."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


def bare(request):
    """A plain Django JSON view: the full middleware stack, no authentication, no query."""
    return JsonResponse({"ok": True})


class BareAuthenticated(APIView):
    """The same answer through DRF with the API's token authentication and role permission:
    the share of an endpoint's cost that is authentication, not the endpoint's own work."""

    def get(self, request):
        return Response({"ok": True})


class BareDRF(APIView):
    """The same answer through DRF with no authentication and no permission: what the
    framework itself costs per request."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("bare-drf/", BareDRF.as_view(), name="bare-drf"),
    path("bare/", bare, name="bare"),
    path("bare-auth/", BareAuthenticated.as_view(), name="bare-auth"),
]
