"""One exception handler for the whole API: rule refusals → 409, validation → 400, a role
that may not act → 403. Every 400 body is a field → messages dict, also the ones Django
itself answers before a view runs (``bad_request``, the project's handler400)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from compliance.errors import RuleViolation

NON_FIELD = "non_field_errors"
# Paths answered in JSON (the REST API; AuthZEN clients call /access/v1/ at the site root).
JSON_PATHS = ("/api/", "/access/")


def validation_messages(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if field == "__all__" else field): [str(m) for m in msgs]
            for field, msgs in exc.message_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):
        set_rollback()
        return Response(exc.as_dict(), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(validation_messages(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied) and str(exc):
        # Keep the service's own words ("Only admins may do this.").
        exc = exceptions.PermissionDenied(str(exc))
    if isinstance(exc, exceptions.ParseError):
        # Malformed JSON is bad input like any other: same field → messages shape.
        exc = exceptions.ValidationError({NON_FIELD: [str(exc.detail)]})
    return drf_exception_handler(exc, context)


def bad_request(request, exception):
    """handler400: Django refused the request itself (a body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many fields, a bad Host): JSON on API paths, the
    HTML page elsewhere."""
    if not request.path_info.startswith(JSON_PATHS):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"Request body too large: at most {limit} bytes."
    else:
        message = "Bad request."
    return JsonResponse({NON_FIELD: [message]}, status=400)
