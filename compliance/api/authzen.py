"""OpenID AuthZEN Authorization API 1.0 at the site root (R26), where AuthZEN clients look:
``POST /access/v1/evaluation``, ``POST /access/v1/evaluations`` and
``GET /.well-known/authzen-configuration``. Every logged-in role, gateways included.

Bodies are parsed by hand (not by nested serializers): a batch of 1,000 evaluations must
cost about what one does (docs/benchmarks.md). The serializers below only document them."""

from __future__ import annotations

import json

from django.urls import path
from django.utils.http import parse_header_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.json import strict_constant as json_strict_constant
from rest_framework.views import APIView

from compliance.api.auth import Companion
from compliance.api.permissions import AccessReader
from compliance.api.serializers import StrictSerializer
from compliance.entitlements import (
    AccessQuery,
    evaluate_access,
    evaluate_one,
    evaluation_from_row,
    evaluation_params,
    evaluation_sql,
)

MAX_EVALUATIONS = 1000
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
ENTITY_KEYS = {"type", "id", "properties"}
ACTION_KEYS = {"name", "properties"}
EVALUATION_KEYS = {"subject", "resource", "action", "context"}
BATCH_KEYS = EVALUATION_KEYS | {"evaluations", "options"}


class Malformed(ValueError):
    pass


def _object_or_absent(value: dict, key: str, name: str) -> None:
    """``properties`` and ``context`` are JSON objects when present (AuthZEN 1.0)."""
    if not isinstance(value.get(key, {}), dict):
        raise Malformed(f"{name}{key} must be an object.")


def _entity(value, name: str, kind: str) -> str | None:
    """The id of a ``{"type", "id"}`` object; None when it is not of ``kind``."""
    if not isinstance(value, dict):
        raise Malformed(f"{name} must be an object with type and id.")
    unknown = set(value) - ENTITY_KEYS
    if unknown:
        raise Malformed(f"{name} has unknown keys: {', '.join(sorted(unknown))}.")
    _object_or_absent(value, "properties", f"{name}.")
    kind_given, ident = value.get("type"), value.get("id")
    if not isinstance(kind_given, str) or not kind_given:
        raise Malformed(f"{name}.type must be a non-empty string.")
    if isinstance(ident, bool) or not isinstance(ident, str | int) or ident == "":
        raise Malformed(f"{name}.id must be a non-empty string.")
    if len(str(ident)) > 200:
        raise Malformed(f"{name}.id is too long.")
    return str(ident) if kind_given == kind else None


def _action(value) -> str:
    if not isinstance(value, dict) or set(value) - ACTION_KEYS:
        raise Malformed("action must be an object with a name.")
    _object_or_absent(value, "properties", "action.")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise Malformed("action.name must be a non-empty string.")
    return name


def _query(item: dict, defaults: dict, where: str = "") -> AccessQuery:
    _object_or_absent(item, "context", where)
    merged = {**defaults, **{k: v for k, v in item.items() if k != "context"}}
    for key in ("subject", "resource", "action"):
        if key not in merged:
            raise Malformed(f"{where}{key} is required.")
    return AccessQuery(
        partner=_entity(merged["subject"], f"{where}subject", "partner"),
        release=_entity(merged["resource"], f"{where}resource", "release"),
        action=_action(merged["action"]),
    )


def _body(body, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise Malformed("The body must be a JSON object.")
    unknown = set(body) - allowed
    if unknown:
        raise Malformed(f"Unknown keys: {', '.join(sorted(unknown))}.")
    return body


def parse_evaluation(request) -> AccessQuery:
    return _query(_body(request.data, EVALUATION_KEYS), {})


def lean_evaluation(request) -> AccessQuery | None:
    """The single evaluation's query read straight from the body's bytes, as DRF's
    JSONParser reads them (UTF-8, no NaN or Infinity) but without its stream and parser
    machinery; None when anything is off: then the view parses the body the usual way, and
    bad input gets the usual 400."""
    media_type, params = parse_header_parameters(request.content_type or "")
    if media_type != "application/json" or params.get("charset", "utf-8").lower() != "utf-8":
        return None
    try:
        body = json.loads(request.body.decode("utf-8"), parse_constant=json_strict_constant)
        return _query(_body(body, EVALUATION_KEYS), {})
    except (ValueError, Malformed):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


def parse_evaluations(request) -> tuple[list[AccessQuery], str]:
    body = _body(request.data, BATCH_KEYS)
    _object_or_absent(body, "context", "")
    items = body.get("evaluations")
    if not isinstance(items, list) or not items:
        raise Malformed("evaluations must be a non-empty list.")
    if len(items) > MAX_EVALUATIONS:
        raise Malformed(f"At most {MAX_EVALUATIONS} evaluations per request.")
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise Malformed("options must be an object.")
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise Malformed(f"options.evaluations_semantic must be one of {', '.join(SEMANTICS)}.")
    defaults = {k: body[k] for k in ("subject", "resource", "action") if k in body}
    queries = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - EVALUATION_KEYS:
            raise Malformed(f"evaluations[{i}] must be an object of subject, resource, action.")
        queries.append(_query(item, defaults, f"evaluations[{i}]."))
    return queries, semantic


def short_circuit(decisions: list[dict], semantic: str) -> list[dict]:
    """Up to and including the deciding evaluation, for the two short-circuit semantics."""
    stop_on = {"deny_on_first_deny": False, "permit_on_first_permit": True}.get(semantic)
    if stop_on is None:
        return decisions
    for i, d in enumerate(decisions):
        if d["decision"] is stop_on:
            return decisions[: i + 1]
    return decisions


# --- Documentation only ------------------------------------------------------------------


class EntityDoc(StrictSerializer):
    type = serializers.CharField(help_text='"partner" (subject) or "release" (resource).')
    id = serializers.CharField(help_text="Partner id, or release slug.")
    properties = serializers.DictField(required=False)


class ActionDoc(StrictSerializer):
    name = serializers.CharField(help_text='"use".')
    properties = serializers.DictField(required=False)


class EvaluationDoc(StrictSerializer):
    subject = EntityDoc()
    resource = EntityDoc()
    action = ActionDoc()
    context = serializers.DictField(required=False)


class BatchItemDoc(StrictSerializer):
    subject = EntityDoc(required=False)
    resource = EntityDoc(required=False)
    action = ActionDoc(required=False)
    context = serializers.DictField(required=False)


class OptionsDoc(StrictSerializer):
    evaluations_semantic = serializers.ChoiceField(choices=SEMANTICS, required=False)


def _given_once(key: str) -> dict:
    """``key`` at the top (the default of every entry) or in every entry."""
    every_entry = {"properties": {"evaluations": {"items": {"required": [key]}}}}
    return {"anyOf": [{"required": [key]}, every_entry]}


class EvaluationsDoc(BatchItemDoc):
    request_schema_extra = {"allOf": [_given_once(k) for k in ("subject", "resource", "action")]}

    evaluations = BatchItemDoc(many=True, min_length=1, max_length=MAX_EVALUATIONS)
    options = OptionsDoc(required=False)


class DecisionContextDoc(serializers.Serializer):
    reason = serializers.CharField(
        help_text="An R15 reason, or unknown_partner, unknown_release, unsupported_action."
    )
    revision = serializers.IntegerField(help_text="The access revision it was computed at.")


class DecisionDoc(serializers.Serializer):
    decision = serializers.BooleanField()
    context = DecisionContextDoc()


class DecisionsDoc(serializers.Serializer):
    evaluations = DecisionDoc(many=True)


class ConfigurationDoc(serializers.Serializer):
    policy_decision_point = serializers.CharField()
    access_evaluation_endpoint = serializers.CharField()
    access_evaluations_endpoint = serializers.CharField()


# --- Views -------------------------------------------------------------------------------


class AuthzenView(APIView):
    permission_classes = [IsAuthenticated, AccessReader]
    parser_classes = [JSONParser]
    error_responses = ("400", "401", "403")


class EvaluationView(AuthzenView):
    """R26: may this partner use this release? ``{"decision", "context": {"reason",
    "revision"}}``; unknown partners and releases are refusals, not errors.

    With a token on PostgreSQL the evaluation's read rides in the token check's statement
    (one round trip, as the token-authenticated no-op: docs/benchmarks.md, issue 15): the
    answer is kept only once the token is valid and its user active, and returned only
    after the permission check. A body the lean reading does not take rides nothing."""

    query: AccessQuery | None = None
    answer: dict | None = None

    def token_companion(self, request) -> Companion | None:
        self.query = lean_evaluation(request)
        if self.query is None:
            return None
        return Companion("evaluation", evaluation_sql, evaluation_params(self.query))

    def token_accompanied(self, columns: tuple) -> None:
        self.answer = evaluation_from_row(self.query, columns)

    @extend_schema(request=EvaluationDoc, responses={200: DecisionDoc})
    def post(self, request):
        if self.answer is not None:
            return Response(self.answer)  # read with the token
        try:
            query = self.query or parse_evaluation(request)
        except Malformed as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        return Response(evaluate_one(query))


class EvaluationsView(AuthzenView):
    """R26 batch: top-level subject/resource/action are defaults for each entry; every
    answer from one snapshot (one revision); at most 1,000 entries."""

    @extend_schema(request=EvaluationsDoc, responses={200: DecisionsDoc})
    def post(self, request):
        try:
            queries, semantic = parse_evaluations(request)
        except Malformed as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        _revision, decisions = evaluate_access(queries)
        return Response({"evaluations": short_circuit(decisions, semantic)})


class ConfigurationView(APIView):
    """AuthZEN PDP metadata: where the evaluation endpoints are."""

    permission_classes = [IsAuthenticated, AccessReader]
    error_responses = ("401", "403")

    @extend_schema(responses={200: ConfigurationDoc})
    def get(self, request):
        root = request.build_absolute_uri("/").rstrip("/")
        return Response(
            {
                "policy_decision_point": root,
                "access_evaluation_endpoint": f"{root}/access/v1/evaluation",
                "access_evaluations_endpoint": f"{root}/access/v1/evaluations",
            }
        )


urlpatterns = [
    path("access/v1/evaluation", EvaluationView.as_view(), name="authzen-evaluation"),
    path("access/v1/evaluations", EvaluationsView.as_view(), name="authzen-evaluations"),
    path(
        ".well-known/authzen-configuration",
        ConfigurationView.as_view(),
        name="authzen-configuration",
    ),
]
