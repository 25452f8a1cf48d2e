"""OpenAPI generation (drf-spectacular): the error contract on every operation, strict
request bodies (``additionalProperties: false``). Knox tokens are described by
drf-spectacular's own contrib extension."""

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.fields import FileField
from rest_framework.relations import ManyRelatedField
from rest_framework.serializers import ListSerializer

# Text the API accepts never holds a NUL character (PostgreSQL cannot store or compare one;
# DRF's text fields, the lookups and the filters refuse it with a 400): the schema says so,
# or a schema-valid "\u0000" would be a 400 the schema did not announce.
NO_NUL = "[^\\u0000]"
NO_NUL_PATTERN = f"^{NO_NUL}*$"


def refuse_nul_in_schema(schema: dict) -> None:
    """A plain string (no pattern, format or enum of its own) gets the no-NUL pattern. Its
    length bounds are repeated in the pattern, so a generator draws within them directly."""
    if schema.get("type") != "string" or {"pattern", "format", "enum"} & set(schema):
        return
    least, most = schema.get("minLength", 0), schema.get("maxLength")
    if most is None:
        schema["pattern"] = f"^{NO_NUL}{{{least},}}$" if least else NO_NUL_PATTERN
    else:
        schema["pattern"] = f"^{NO_NUL}{{{least},{most}}}$"


# A time's UTC offset is within ±15:59 (compliance.validators.validate_utc_offset: PostgreSQL
# refuses more), or Z. The whole RFC 3339 shape is spelled out, so a generator drawing from
# the pattern draws valid times (the format alone would leave it filtering at random).
OFFSET_PATTERN = (
    "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])"
    "-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?"
    "(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"
)


def bound_offset_in_schema(schema: dict) -> None:
    if schema.get("format") == "date-time" and "pattern" not in schema:
        schema["pattern"] = OFFSET_PATTERN


FIELD_ERRORS = {
    "type": "object",
    "description": (
        "Field name (or non_field_errors) → messages; for a list field whose items are"
        " wrong, the item's index → its messages."
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        ]
    },
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
        bound_offset_in_schema(schema)
        # A blank-allowed field with a pattern becomes oneOf[pattern, maxLength 0]; "" matches
        # both, which oneOf forbids (valid responses would fail validation). anyOf is meant.
        alternatives = schema.get("oneOf", [])
        if any(alt.get("maxLength") == 0 for alt in alternatives):
            schema["anyOf"] = schema.pop("oneOf")

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        from compliance.api.serializers import reads_null_as_blank

        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # StrictInputMixin reads an optional text given as null as "" (not given): say so.
        if (
            direction == "request"
            and getattr(field.parent, "strict", False)
            and reads_null_as_blank(field)
        ):
            schema["nullable"] = True
        # A nested ``many=True`` serializer's bounds (the AuthZEN batch: 1 to 1,000), which
        # drf-spectacular leaves out for ListSerializer (it keeps them for ListField).
        # An upload that may not be empty (DRF's default): "No file was submitted." otherwise.
        if isinstance(field, FileField) and not getattr(field, "allow_empty_file", True):
            schema.setdefault("minLength", 1)
        if isinstance(field, ManyRelatedField) and getattr(field.child_relation, "refuses_nul", 0):
            refuse_nul_in_schema(schema.get("items", {}))
        # A many=True lookup that may not be empty (a release's required agencies), likewise.
        if isinstance(field, ListSerializer | ManyRelatedField) and schema.get("type") == "array":
            least = 0 if field.allow_empty else 1
            least = max(least, getattr(field, "min_length", None) or 0)
            if least:
                schema["minItems"] = least
            if getattr(field, "max_length", None) is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "strict", False):
            schema["additionalProperties"] = False
        if direction == "request":
            # What the fields alone cannot say (the AuthZEN batch's defaults), as JSON Schema.
            schema.update(getattr(serializer, "request_schema_extra", {}))
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
            bound_offset_in_schema(schema)
        return parameters
