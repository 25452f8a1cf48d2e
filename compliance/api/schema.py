"""OpenAPI generation (drf-spectacular): the error contract on every operation, strict
request bodies (``additionalProperties: false``). Knox tokens are described by
drf-spectacular's own contrib extension."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

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
        # A blank-allowed field with a pattern becomes oneOf[pattern, maxLength 0]; "" matches
        # both, which oneOf forbids (valid responses would fail validation). anyOf is meant.
        alternatives = schema.get("oneOf", [])
        if any(alt.get("maxLength") == 0 for alt in alternatives):
            schema["anyOf"] = schema.pop("oneOf")

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
        for parameter in parameters:
            schema = parameter["schema"]
            schema = schema.get("items", schema) if schema.get("type") == "array" else schema
            schema.update(bounds)
        return parameters
