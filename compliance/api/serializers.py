"""API shapes. Serializers only parse and render: every write goes through a service.

Addressing (SPEC "The REST API"): releases by slug, agencies by code, users by username,
everything else by id. Request bodies are strict: a key that is not a writable field of the
operation is refused with 400 (``{"<key>": ["Unknown or read-only field."]}``) rather than
silently ignored, so a typo never looks like a change that was made."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.db import models
from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from compliance import rules, validators
from compliance.errors import BLOCKER_KINDS, DEPLOY_BLOCKER_KINDS
from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    EvidenceDocument,
    EvidenceKind,
    GovernmentRequest,
    Partner,
    Release,
    ReleaseStatus,
    Reminder,
    RequestStatus,
    SignOff,
    SignOffStatus,
    Stage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from compliance.services import releases as release_services
from compliance.services import requests as request_services

User = get_user_model()

# Generous bounds on free text, so a huge body is a 400 and never reaches the database (the
# pages' forms take the same bounds from compliance.validators).
REASON_MAX = validators.REASON_MAX
TEXT_MAX = validators.TEXT_MAX
UNKNOWN_FIELD = "Unknown or read-only field."
ACCESS_REASONS = rules.ACCESS_REASONS
ALERT_KINDS = rules.ALERT_KINDS


class OffsetDateTimeField(serializers.DateTimeField):
    # ISO 8601 with an explicit offset (+00:00), never DRF's bare Z. Every time field of a
    # body (and as_of) is one of these: an offset PostgreSQL refuses (+16:00 or more) is a 400
    # on the field, as on the pages.

    def enforce_timezone(self, value):
        validators.validate_utc_offset(value)
        return super().enforce_timezone(value)

    def to_representation(self, value):
        if not value:
            return None
        if isinstance(value, str):
            return value
        return self.enforce_timezone(value).isoformat()


# Docstrings of serializers become descriptions in the OpenAPI schema: implementation notes
# are comments.


def reads_null_as_blank(field) -> bool:
    """A text that may be blank and not null: StrictInputMixin reads ``null`` there as ""
    (the schema says so too, compliance/api/schema.py)."""
    return isinstance(field, serializers.CharField) and field.allow_blank and not field.allow_null


class StrictInputMixin:
    # Refuse body keys that are not writable fields of this serializer (400).

    strict = True

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError({key: [UNKNOWN_FIELD] for key in unknown})
            # An optional text given as null (``"reason": null``) is the same as not given.
            blank = {
                name: ""
                for name, field in self.fields.items()
                if data.get(name, "") is None and reads_null_as_blank(field)
            }
            if blank:
                data = {**data, **blank}
            wrong = _wrong_json_types(self.fields, data)
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


# A JSON value of another type than the schema's is a 400, as the schema says: DRF alone
# would turn 42 into "42" and "1" into True (a client's mistake accepted silently).
JSON_TYPES = (
    (serializers.BooleanField, (bool,), "Must be a boolean."),
    (serializers.IntegerField, (int,), "Must be an integer."),
    (serializers.CharField, (str,), "Must be a string."),
)


def _wrong_json_types(fields, data: Mapping) -> dict:
    wrong = {}
    for name, value in data.items():
        field = fields.get(name)
        if value is None or field is None:
            continue
        for kind, types, message in JSON_TYPES:
            if isinstance(field, kind):
                if not isinstance(value, types) or (
                    kind is serializers.IntegerField and isinstance(value, bool)
                ):
                    wrong[name] = [message]
                break
    return wrong


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: OffsetDateTimeField,
    }


class StrictModelSerializer(StrictInputMixin, ModelSerializer):
    pass


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    pass


def reason_field(help_text: str = "Why (recorded in the history).") -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX, help_text=help_text
    )


def optional_reason_field() -> serializers.CharField:
    """A write-only reason next to an object's own fields (create/edit)."""
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=REASON_MAX,
        help_text="Why (recorded in the history).",
    )


class LookupField(serializers.SlugRelatedField):
    """A related object named by its code, slug or username: every writable one in a body
    is one of these. A NUL character is refused before the lookup (PostgreSQL cannot compare
    it), with the same message as the pages' fields (Django's own check)."""

    refuses_nul = True  # the schema's no-NUL pattern (compliance.api.schema)

    def to_internal_value(self, data):
        if isinstance(data, str):
            validators.prohibit_nul(data)
        return super().to_internal_value(data)


class UsernameField(LookupField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)


def agency_codes(**kwargs) -> LookupField:
    return LookupField(slug_field="code", queryset=Agency.objects.all(), **kwargs)


def release_slugs(**kwargs) -> LookupField:
    return LookupField(slug_field="slug", queryset=Release.objects.all(), **kwargs)


TEXT_KWARGS = {"max_length": TEXT_MAX}


def cited_documents() -> serializers.PrimaryKeyRelatedField:
    """R38: the evidence documents a decision cites (ids); unknown ids are a 400."""
    return serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=EvidenceDocument.objects.all(),
        required=False,
        default=list,
        help_text="Ids of the evidence documents this decision cites (R38).",
    )


def linked_documents() -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Ids of the evidence documents linked (R38)."
    )


# --- Agencies and partners --------------------------------------------------------------


class AgencySerializer(StrictModelSerializer):
    reason = optional_reason_field()

    class Meta:
        model = Agency
        fields = ["code", "name", "contact_email", "active", "reason"]


class AgencyUpdateSerializer(AgencySerializer):
    class Meta(AgencySerializer.Meta):
        read_only_fields = ["code"]


class PartnerSerializer(StrictModelSerializer):
    country = CountryField(help_text="ISO 3166-1 alpha-2 code, e.g. US, GB.")
    reason = optional_reason_field()

    class Meta:
        model = Partner
        fields = ["id", "name", "country", "contact_email", "notes", "reason"]
        extra_kwargs = {"notes": TEXT_KWARGS}


# --- Releases ---------------------------------------------------------------------------


class ReleaseSerializer(StrictModelSerializer):
    owner = UsernameField(
        required=False, help_text="Username; defaults to the user who creates the release."
    )
    required_agencies = agency_codes(
        many=True,
        required=False,
        allow_empty=False,
        help_text="Agency codes; defaults to every active agency.",
    )
    reason = optional_reason_field()

    class Meta:
        model = Release
        # What a caller may edit is the service's list (one definition, services/releases.py).
        fields = [
            "slug",
            *release_services.EDITABLE_FIELDS,
            "status",
            "review_round",
            "created_at",
            "updated_at",
            "reason",
        ]
        read_only_fields = ["status", "review_round", "created_at", "updated_at"]
        extra_kwargs = {"description": TEXT_KWARGS}


class ReleaseUpdateSerializer(ReleaseSerializer):
    class Meta(ReleaseSerializer.Meta):
        read_only_fields = ["slug", *ReleaseSerializer.Meta.read_only_fields]


class SubmitSerializer(StrictSerializer):
    reason = reason_field()


class TransitionSerializer(StrictSerializer):
    to = serializers.ChoiceField(choices=ReleaseStatus.choices, help_text="The target status.")
    reason = reason_field("Required to suspend or retire (R5, R6).")


# --- Gate and access (read models) ------------------------------------------------------


class BlockerSerializer(serializers.Serializer):
    """One reason a rule refuses (SPEC R8): ``kind`` plus the fields that kind carries."""

    kind = serializers.ChoiceField(choices=BLOCKER_KINDS)
    to = serializers.CharField(required=False)
    agency = serializers.CharField(required=False, help_text="Agency code.")
    stage = serializers.ChoiceField(choices=["limited", "general"], required=False)
    request = serializers.IntegerField(required=False, help_text="Government request id.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(required=False)  # a keyword in Python
        return fields


class RuleViolationSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["rule_violation"])
    detail = serializers.CharField()
    blockers = BlockerSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class GateStageSerializer(serializers.Serializer):
    cleared = serializers.BooleanField()
    approved = serializers.ListField(child=serializers.CharField(), help_text="Agency codes.")
    pending = serializers.ListField(child=serializers.CharField())
    rejected = serializers.ListField(child=serializers.CharField())
    withdrawn = serializers.ListField(child=serializers.CharField())
    blockers = BlockerSerializer(many=True)


class GateStagesSerializer(serializers.Serializer):
    limited = GateStageSerializer()
    general = GateStageSerializer()


class AlertSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ALERT_KINDS)
    release = serializers.CharField(help_text="Release slug.")
    detail = serializers.CharField()
    stage = serializers.CharField(required=False)
    agencies = serializers.ListField(child=serializers.CharField(), required=False)
    request = serializers.IntegerField(required=False)
    partner = serializers.IntegerField(required=False)


class GateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReleaseStatus.choices)
    round = serializers.IntegerField()
    stages = GateStagesSerializer()
    alerts = AlertSerializer(many=True)


class EnforcementSerializer(serializers.Serializer):
    revision = serializers.IntegerField(help_text="The access change's revision.")
    at = OffsetDateTimeField(help_text="When it was committed.")
    enforced_at = OffsetDateTimeField(
        allow_null=True, help_text="When the last active gateway reported it (R29)."
    )
    pending = serializers.ListField(
        child=serializers.CharField(), help_text="Active gateways that have not reported it."
    )


class GateQuerySerializer(serializers.Serializer):
    as_of = OffsetDateTimeField(
        required=False, help_text="ISO 8601 time: the gate and allowlist as they stood then."
    )


class AllowlistAsOfSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    partner = serializers.IntegerField()
    partner_name = serializers.CharField()
    country = serializers.CharField()
    status = serializers.ChoiceField(choices=AllowlistStatus.choices)
    vetted_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class GateAsOfSerializer(GateSerializer):
    """The gate; with ``?as_of=`` also ``as_of`` and the allowlist as it stood then."""

    as_of = serializers.DateTimeField(required=False)
    allowlist = AllowlistAsOfSerializer(many=True, required=False)
    enforcement = EnforcementSerializer(
        required=False,
        allow_null=True,
        help_text="R29 for the release's latest access change (now only, not with as_of).",
    )


class AccessQuerySerializer(serializers.Serializer):
    # The id column's range: a larger number is bad input (400), not a database error.
    partner = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Partner id.")


class AccessSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=ACCESS_REASONS)


class DeployCheckQuerySerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, help_text="limited or general.")
    digest = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The digest of the artifact about to be deployed (e.g. sha256:…).",
    )


class DeployBlockerSerializer(serializers.Serializer):
    """Why a deployment is refused (R32): ``stage_not_released`` carries status and stage."""

    kind = serializers.ChoiceField(choices=DEPLOY_BLOCKER_KINDS)
    status = serializers.ChoiceField(choices=ReleaseStatus.choices, required=False)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)


class DeployCheckSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    release = serializers.CharField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    status = serializers.ChoiceField(choices=ReleaseStatus.choices)
    revision = serializers.IntegerField(help_text="Access revision the answer was computed at.")
    digest_matches = serializers.BooleanField(
        allow_null=True, help_text="null when the release names no artifact digest."
    )
    blockers = DeployBlockerSerializer(many=True)


# --- Sign-offs --------------------------------------------------------------------------


class SignOffSerializer(ModelSerializer):
    release = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    recorded_by = UsernameField(read_only=True, allow_null=True)
    documents = linked_documents()

    class Meta:
        model = SignOff
        fields = [
            "id",
            "release",
            "round",
            "agency",
            "stage",
            "status",
            "due_at",
            "decided_at",
            "recorded_by",
            "evidence",
            "conditions",
            "reason",
            "documents",
        ]
        read_only_fields = fields


class SignOffDecisionSerializer(StrictSerializer):
    decision = serializers.ChoiceField(
        choices=[SignOffStatus.APPROVED.value, SignOffStatus.REJECTED.value]
    )
    evidence = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=TEXT_MAX,
        help_text="Required to approve.",
    )
    conditions = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX
    )
    reason = reason_field("Required to reject.")
    documents = cited_documents()


class ReasonSerializer(StrictSerializer):
    reason = reason_field("Required.")


# --- Government requests ----------------------------------------------------------------


class GovernmentRequestSerializer(StrictModelSerializer):
    agency = agency_codes(help_text="Agency code.")
    releases = release_slugs(many=True, required=False, help_text="Release slugs.")
    assignee = UsernameField(required=False, allow_null=True)
    in_force = serializers.BooleanField(read_only=True, help_text="Not closed (R12).")
    documents = linked_documents()
    reason = optional_reason_field()

    class Meta:
        model = GovernmentRequest
        fields = [
            "id",
            "agency",
            # What a caller may edit is the service's list (services/requests.py).
            *request_services.EDITABLE_FIELDS,
            "status",
            "complied_at",
            "closed_at",
            "in_force",
            "documents",
            "reason",
        ]
        read_only_fields = ["status", "complied_at", "closed_at"]
        extra_kwargs = {
            "received_at": {"required": False, "help_text": "Defaults to now."},
            "summary": TEXT_KWARGS,
            "response": TEXT_KWARGS,
        }


class RequestEnforcementSerializer(serializers.Serializer):
    release = serializers.CharField(help_text="Release slug.")
    change = serializers.CharField(help_text='In words, e.g. "status: limited → suspended".')
    revision = serializers.IntegerField()
    at = OffsetDateTimeField()
    enforced_at = OffsetDateTimeField(allow_null=True)
    pending = serializers.ListField(child=serializers.CharField())


class GovernmentRequestDetailSerializer(GovernmentRequestSerializer):
    """One request, with how its access changes were enforced (R29)."""

    enforcement = RequestEnforcementSerializer(many=True, read_only=True)
    time_to_enforce = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Seconds from received_at to enforced."
    )

    class Meta(GovernmentRequestSerializer.Meta):
        fields = [*GovernmentRequestSerializer.Meta.fields, "enforcement", "time_to_enforce"]


class GovernmentRequestUpdateSerializer(GovernmentRequestSerializer):
    # PATCH: the agency cannot change. It is left out rather than made read-only, because
    # DRF turns a read-only member of a unique constraint into a hidden, writable field.
    # R38: ``documents`` (ids) replaces the set of evidence documents linked to the request.

    documents = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=EvidenceDocument.objects.all(),
        required=False,
        help_text="Ids of the evidence documents linked to this request (R38).",
    )

    class Meta(GovernmentRequestSerializer.Meta):
        fields = [f for f in GovernmentRequestSerializer.Meta.fields if f != "agency"]


class RequestStatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    note = reason_field("Why (recorded in the history).")


# --- Allowlist --------------------------------------------------------------------------


class AllowlistEntrySerializer(ModelSerializer):
    release = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    partner_country = serializers.CharField(source="partner.country.code", read_only=True)
    proposed_by = UsernameField(read_only=True)
    decided_by = UsernameField(read_only=True, allow_null=True)
    vetted_by = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    documents = linked_documents()

    class Meta:
        model = AllowlistEntry
        fields = [
            "id",
            "release",
            "partner",
            "partner_name",
            "partner_country",
            "status",
            "proposed_by",
            "decided_by",
            "vetted_by",
            "decided_at",
            "note",
            "reason",
            "created_at",
            "documents",
        ]
        read_only_fields = fields


class AllowlistProposeSerializer(StrictSerializer):
    partner = serializers.PrimaryKeyRelatedField(
        queryset=Partner.objects.all(), help_text="Partner id."
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX
    )


class AllowlistDecisionSerializer(StrictSerializer):
    decision = serializers.ChoiceField(
        choices=[AllowlistStatus.APPROVED.value, AllowlistStatus.REJECTED.value]
    )
    vetted_by = agency_codes(
        required=False,
        allow_null=True,
        default=None,
        help_text="Code of the agency that vetted the partner (needed under R14 vet_users).",
    )
    reason = reason_field("Required to reject.")
    documents = cited_documents()


# --- Auth -------------------------------------------------------------------------------


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ApiTokenSerializer(serializers.Serializer):
    """An issued API token, never the token itself: only its digest is stored."""

    id = serializers.CharField(source="digest", help_text="The token's id (its digest).")
    user = serializers.CharField(source="user.username")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.SerializerMethodField(help_text="The token of this request.")

    def get_current(self, token) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return getattr(auth, "digest", None) == token.digest


class ApiTokenQuerySerializer(serializers.Serializer):
    user = serializers.CharField(
        required=False, max_length=150, help_text="Username (admins see everyone's tokens)."
    )


# --- Reminders --------------------------------------------------------------------------


class ReminderSerializer(ModelSerializer):  # times with an explicit offset, like the rest
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "kind", "recipient", "email", "subject", "items", "sweep_id", "sent_at"]
        read_only_fields = fields


# --- Webhooks (R31) ---------------------------------------------------------------------


class WebhookSerializer(StrictModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=False,
        default=list,
        help_text="Event types to send; empty: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "active",
            "disabled_reason",
            "secret_rotated_at",
            "created_at",
        ]
        read_only_fields = ["active", "disabled_reason", "secret_rotated_at", "created_at"]


class WebhookUpdateSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        read_only_fields = ["disabled_reason", "secret_rotated_at", "created_at"]


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="whsec_…: shown this once.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "response_status", "latency_ms", "error"]


class WebhookDeliverySerializer(ModelSerializer):
    log = WebhookAttemptSerializer(many=True, read_only=True, help_text="Every attempt.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "message_id",
            "status",
            "attempts",
            "response_status",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
            "log",
        ]


# --- Evidence (R37) ---------------------------------------------------------------------


class EvidenceDocumentSerializer(ModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    uploaded_by = UsernameField(read_only=True)
    releases = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    requests = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    signoffs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    allowlist_entries = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    superseded_by = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceDocument
        fields = [
            "id",
            "title",
            "kind",
            "agency",
            "sha256",
            "size",
            "content_type",
            "original_name",
            "uploaded_by",
            "uploaded_at",
            "received_at",
            "supersedes",
            "superseded_by",
            "releases",
            "requests",
            "signoffs",
            "allowlist_entries",
            "download",
        ]
        read_only_fields = fields

    def get_download(self, document) -> str:
        return f"/api/v1/evidence/{document.pk}/file/"


class EvidenceLinksMixin(serializers.Serializer):
    agency = agency_codes(required=False, allow_null=True, help_text="Agency code.")
    received_at = OffsetDateTimeField(
        required=False, allow_null=True, help_text="The letter's own date."
    )
    supersedes = serializers.PrimaryKeyRelatedField(
        queryset=EvidenceDocument.objects.all(),
        required=False,
        allow_null=True,
        help_text="Id of the document this one replaces (a new version).",
    )
    releases = release_slugs(many=True, required=False, help_text="Release slugs.")
    requests = serializers.PrimaryKeyRelatedField(
        many=True, queryset=GovernmentRequest.objects.all(), required=False
    )
    signoffs = serializers.PrimaryKeyRelatedField(
        many=True, queryset=SignOff.objects.all(), required=False
    )
    allowlist_entries = serializers.PrimaryKeyRelatedField(
        many=True, queryset=AllowlistEntry.objects.all(), required=False
    )
    reason = reason_field()


class EvidenceUploadSerializer(StrictInputMixin, EvidenceLinksMixin):
    # multipart/form-data: ``file`` and the metadata; many-valued links repeat their key.
    file = serializers.FileField(allow_empty_file=False, use_url=False)
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    # A form field cannot be null (a multipart "null" is the text "null"): leave one out
    # instead. The schema says so; PATCH (JSON) still clears them with null.
    agency = agency_codes(required=False, help_text="Agency code.")
    received_at = OffsetDateTimeField(required=False, help_text="The letter's own date.")
    supersedes = serializers.PrimaryKeyRelatedField(
        queryset=EvidenceDocument.objects.all(),
        required=False,
        help_text="Id of the document this one replaces (a new version).",
    )


class EvidenceUpdateSerializer(StrictInputMixin, EvidenceLinksMixin):
    # PATCH: metadata and links only; the bytes, the hash and the size never change.
    title = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=EvidenceKind.choices, required=False)
