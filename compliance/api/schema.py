"""OpenAPI generation (drf-spectacular): the error contract on every operation, strict
request bodies (``additionalProperties: false``). Knox tokens are described by
drf-spectacular's own contrib extension."""

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.serializers import ListSerializer

# Text the API accepts never holds a NUL character (PostgreSQL cannot store or compare one;
# DRF's text fields, the lookups and the filters refuse it with a 400): the schema says so,
# or a schema-valid "\u0000" would be a 400 the schema did not announce.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def refuse_nul_in_schema(schema: dict) -> None:
    """A plain string (no pattern, format or enum of its own) gets the no-NUL pattern."""
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN


FIELD_ERRORS = {
    "type": "object",
    "description": "Field name (or non_field_errors) → messages.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


def _error_responses() -> dict:
    from compliance.api.serializers import DetailSerializer, RuleViolationSerializer

    return {
        "400": OpenApiResponse(FIELD_ERRORS, description="Bad input."),
        "401": OpenApiResponse(DetailSerializer, description="Not logged in."),
        "403": OpenApiResponse(DetailSerializer, description="Role not allowed."),
        "404": OpenApiResponse(DetailSerializer, description="Unknown object or page."),
        "409": OpenApiResponse(
            RuleViolationSerializer, description="A rule refuses: every blocker listed (R8)."
        ),
        "429": OpenApiResponse(DetailSerializer, description="Too many requests."),
    }


class ClearanceAutoSchema(AutoSchema):
    """Adds the error responses a view can produce. A view may narrow them with an
    ``error_responses`` attribute (a tuple of status codes)."""

    def _default_error_codes(self) -> tuple[str, ...]:
        codes = ("400", "401", "403", "404")
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes += ("409",)
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = getattr(self.view, "error_responses", None) or self._default_error_codes()
        errors = _error_responses()
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(errors[code], code)
        return responses

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        refuses_nul = getattr(field, "refuses_nul", False) or any(
            isinstance(v, ProhibitNullCharactersValidator) for v in field.validators
        )
        if refuses_nul:
            refuse_nul_in_schema(schema)
        # A blank-allowed field with a pattern becomes oneOf[pattern, maxLength 0]; "" matches
        # both, which oneOf forbids (valid responses would fail validation). anyOf is meant.
        alternatives = schema.get("oneOf", [])
        if any(alt.get("maxLength") == 0 for alt in alternatives):
            schema["anyOf"] = schema.pop("oneOf")

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A nested ``many=True`` serializer's bounds (the AuthZEN batch: 1 to 1,000), which
        # drf-spectacular leaves out for ListSerializer (it keeps them for ListField).
        if isinstance(field, ListSerializer) and schema.get("type") == "array":
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "strict", False):
            schema["additionalProperties"] = False
        return schema


# A filter's form-field bounds → the query parameter's schema keywords.
FILTER_BOUNDS = {"min_value": "minimum", "max_value": "maximum", "max_length": "maxLength"}


class BoundedFilterExtension(DjangoFilterExtension):
    """drf-spectacular's django-filter parameters, plus the bounds each filter enforces
    (``?round=`` above its maximum is a 400: the schema says so, so a client or a fuzzer
    knows which values are valid)."""

    priority = 1  # replaces drf-spectacular's own extension for DjangoFilterBackend

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        bounds = {
            keyword: filter_field.extra[name]
            for name, keyword in FILTER_BOUNDS.items()
            if filter_field.extra.get(name) is not None
        }
        choices = filter_field.extra.get("choices")
        if callable(choices):
            # Computed choices (the audit's model names): drf-spectacular leaves them out;
            # a value outside them is a 400, so the schema lists them.
            bounds["enum"] = [value for value, _label in choices()]
        for parameter in parameters:
            schema = parameter["schema"]
            schema = schema.get("items", schema) if schema.get("type") == "array" else schema
            schema.update(bounds)
            refuse_nul_in_schema(schema)
        return parameters
