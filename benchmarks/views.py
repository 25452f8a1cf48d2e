"""The baseline the API is measured against (issue 8): the cheapest JSON answers the same
server can give. Mounted only when ``CLEARANCE_BENCH=1`` (see config/urls.py).

The ``eval-*`` views take ``POST /access/v1/evaluation`` apart (issue 15): each adds one step
of the evaluation to the token-authenticated no-op, so the step's cost is the difference of
two neighbours measured side by side (``benchmarks/gateways.py --only profile``)."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.api.authzen import AuthzenView, parse_evaluation
from compliance.entitlements import AccessQuery, evaluate_one


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


class EvalBody(AuthzenView):
    """The evaluation's permission classes, a POST with its JSON body, parsed by DRF."""

    parser_classes = [JSONParser]

    def post(self, request):
        return Response({"ok": isinstance(request.data, dict)})


class EvalParsed(AuthzenView):
    """… and the body checked as an AuthZEN evaluation (``parse_evaluation``)."""

    def post(self, request):
        return Response({"ok": parse_evaluation(request).action == "use"})


class EvalRoundTrip(AuthzenView):
    """The no-op with one more, trivial, statement (``SELECT 1``): what a round trip costs."""

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return Response({"ok": cursor.fetchone()[0] == 1})


class EvalRead(AuthzenView):
    """The evaluation's read (``evaluate_one``) of a fixed query, with no body at all."""

    def get(self, request):
        return Response(evaluate_one(AccessQuery("1", "frontier-2", "use")))


urlpatterns = [
    path("bare-drf/", BareDRF.as_view(), name="bare-drf"),
    path("bare/", bare, name="bare"),
    path("bare-auth/", BareAuthenticated.as_view(), name="bare-auth"),
    path("eval-body/", EvalBody.as_view(), name="eval-body"),
    path("eval-parsed/", EvalParsed.as_view(), name="eval-parsed"),
    path("eval-round-trip/", EvalRoundTrip.as_view(), name="eval-round-trip"),
    path("eval-read/", EvalRead.as_view(), name="eval-read"),
]
