"""One django-filter FilterSet per list (NetBox style): the same class validates and applies
the query string of the page, the API list and the export.

    ReleaseFilter            /releases/ page, GET /api/v1/releases/
    SignOffFilter            GET /api/v1/signoffs/
    GovernmentRequestFilter  /requests/ page, GET /api/v1/requests/
    AgencyFilter             GET /api/v1/agencies/
    PartnerFilter            GET /api/v1/partners/
    AllowlistEntryFilter     GET /api/v1/releases/{slug}/allowlist/
    AllowlistFilter          /allowlist/ page (every release's entries)
    AuditRecordFilter        /audit/ page, GET /api/v1/audit/ and its export, export_audit
    ReminderFilter           /reminders/ page, GET /api/v1/reminders/
    EvidenceDocumentFilter   /evidence/ page, GET /api/v1/evidence/

Filters by code, slug or username match exactly: an unknown value gives an empty list. A
malformed value is a 400 on the API and a form error on the page, never ignored: a round that
is not a number, an unknown status, a boolean that is not one (``binding=maybe``), a text over
its length limit or holding a NUL character (PostgreSQL cannot compare it), a time whose offset
PostgreSQL cannot store. Labels, empty choices and widgets are for the pages, which render the
FilterSet's form. (Ordering, when lists get it, is one more filter here: ``OrderingFilter``.)"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

import django_filters as filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from compliance.audit.registry import model_names, tracked_models
from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    AuditAction,
    AuditRecord,
    EvidenceDocument,
    EvidenceKind,
    GovernmentRequest,
    LabPosition,
    Partner,
    Release,
    ReleaseStatus,
    Reminder,
    ReminderKind,
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
    Stage,
)

User = get_user_model()

# Length limits of the values filters compare with (the model fields' own limits).
CODE_MAX = 16
SLUG_MAX = 100
USERNAME_MAX = 150
NAME_MAX = 200

# PostgreSQL stores UTC offsets up to 15:59 ("time zone displacement out of range" beyond).
MAX_OFFSET = timedelta(hours=16)


def filtered(filterset_class: type[filters.FilterSet], params: Mapping, queryset=None) -> QuerySet:
    """The queryset ``params`` select, for callers outside a view (the export command, the
    audit log helpers); ValidationError (field → messages) on bad input."""
    data = {k: v for k, v in params.items() if v not in (None, "")}
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(
            {field: [str(m) for m in messages] for field, messages in filterset.errors.items()}
        )
    return filterset.qs


# --- fields --------------------------------------------------------------------------------


class Select(forms.Select):
    """A filter is never required; saying so also spares Select's look at the first choice,
    which would run a callable's query twice per page."""

    def use_required_attribute(self, initial) -> bool:
        return False


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also yes/no, 1/0), any case; empty is "any"; anything else is an error
    (a NullBooleanField reads ``maybe`` as "any" and filters nothing)."""

    TRUE = frozenset({"true", "yes", "1", "on"})
    FALSE = frozenset({"false", "no", "0", "off"})
    default_error_messages = {"invalid": "Must be true or false."}

    def __init__(self, *, labels: tuple[str, str] = ("Yes", "No"), **kwargs):
        kwargs.setdefault(
            "widget",
            Select(choices=[("", "Any"), ("true", labels[0]), ("false", labels[1])]),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if not text:
            return None
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


# ``?since=2026-05-15T17:21:00+00:00`` put in a URL unencoded arrives with a space for "+".
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


def refuse_unstorable_offset(value):
    """A time whose UTC offset PostgreSQL cannot store is bad input, not a 500."""
    offset = value.utcoffset() if value is not None else None
    if offset is not None and abs(offset) >= MAX_OFFSET:
        raise ValidationError(
            "The UTC offset must be between -15:59 and +15:59.", code="offset_out_of_range"
        )


class DateTimeField(forms.DateTimeField):
    """ISO 8601 (a naive time is in ``TIME_ZONE``), an unencoded "+" tolerated, an offset
    PostgreSQL can store."""

    default_validators = [refuse_unstorable_offset]

    def to_python(self, value):
        if isinstance(value, str):
            value = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
        return super().to_python(value)


# --- filters -------------------------------------------------------------------------------


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class DateTimeFilter(filters.DateTimeFilter):
    field_class = DateTimeField


def _any(pairs) -> list[tuple[str, str]]:
    return [("", "Any"), *pairs]


def agency_choices():
    return _any(
        (code, code) for code in Agency.objects.order_by("code").values_list("code", flat=True)
    )


def release_choices(empty: str = "Any"):
    def choices():
        slugs = Release.objects.order_by("slug").values_list("slug", flat=True)
        return [("", empty), *((slug, slug) for slug in slugs)]

    return choices


def user_choices():
    names = User.objects.order_by("username").values_list("username", flat=True)
    return _any((name, name) for name in names)


def code_filter(field_name: str | None, *, help_text: str = "Code.", **kwargs):
    """An agency by its code (exact; unknown → nothing), a select of codes on the pages."""
    return filters.CharFilter(
        field_name=field_name,
        max_length=CODE_MAX,
        label="Agency",
        help_text=help_text,
        widget=Select(choices=agency_choices),
        **kwargs,
    )


def username_filter(field_name: str, label: str) -> filters.CharFilter:
    return filters.CharFilter(
        field_name=field_name,
        max_length=USERNAME_MAX,
        label=label,
        help_text="Username.",
        widget=Select(choices=user_choices),
    )


# --- FilterSets ----------------------------------------------------------------------------


class AgencyFilter(filters.FilterSet):
    active = BooleanFilter()

    class Meta:
        model = Agency
        fields = ["active"]


class PartnerFilter(filters.FilterSet):
    country = filters.CharFilter(method="filter_country", max_length=2, help_text="e.g. US")
    name = filters.CharFilter(lookup_expr="icontains", max_length=NAME_MAX)

    class Meta:
        model = Partner
        fields = ["country", "name"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())


class ReleaseFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)
    owner = username_filter("owner__username", "Owner")
    agency = code_filter(None, method="filter_agency", help_text="Releases that require it.")
    foreign_access_restricted = BooleanFilter(labels=("US only", "Open"), label="Foreign access")
    q = filters.CharFilter(
        method="filter_q", max_length=NAME_MAX, label="Name", help_text="Slug or name contains."
    )

    class Meta:
        model = Release
        fields = ["status", "owner", "agency", "foreign_access_restricted", "q"]

    def filter_agency(self, queryset, name, value):
        # A subquery, not a join: no duplicate rows, no DISTINCT needed.
        return queryset.filter(
            pk__in=Release.required_agencies.through.objects.filter(agency__code=value).values(
                "release_id"
            )
        )

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class SignOffFilter(filters.FilterSet):
    release = filters.CharFilter(field_name="release__slug", max_length=SLUG_MAX, help_text="Slug.")
    agency = code_filter("agency__code")
    stage = filters.ChoiceFilter(choices=Stage.choices, empty_label="Any")
    status = filters.ChoiceFilter(choices=SignOffStatus.choices, empty_label="Any")
    round = IntegerFilter(min_value=0, max_value=2**31 - 1)

    class Meta:
        model = SignOff
        fields = ["release", "agency", "stage", "status", "round"]


class GovernmentRequestFilter(filters.FilterSet):
    agency = code_filter("agency__code")
    release = filters.CharFilter(
        method="filter_release",
        max_length=SLUG_MAX,
        help_text="Requests naming this release.",
        widget=Select(choices=release_choices()),
    )
    kind = filters.ChoiceFilter(choices=RequestKind.choices, empty_label="Any")
    status = filters.MultipleChoiceFilter(choices=RequestStatus.choices)
    binding = BooleanFilter(labels=("Binding", "Voluntary"))
    in_force = BooleanFilter(
        method="filter_in_force", label="In force", help_text="Not closed (R12)."
    )
    assignee = username_filter("assignee__username", "Assignee")
    lab_position = filters.ChoiceFilter(choices=LabPosition.choices, empty_label="Any")

    class Meta:
        model = GovernmentRequest
        fields = [
            "agency",
            "release",
            "kind",
            "status",
            "binding",
            "in_force",
            "assignee",
            "lab_position",
        ]

    def filter_release(self, queryset, name, value):
        return queryset.filter(
            pk__in=GovernmentRequest.releases.through.objects.filter(release__slug=value).values(
                "governmentrequest_id"
            )
        )

    def filter_in_force(self, queryset, name, value):
        in_force = GovernmentRequest.objects.in_force().values("pk")
        return queryset.filter(pk__in=in_force) if value else queryset.exclude(pk__in=in_force)


class AllowlistEntryFilter(filters.FilterSet):
    """One release's allowlist (the release is in the path)."""

    status = filters.ChoiceFilter(choices=AllowlistStatus.choices, empty_label="Any")

    class Meta:
        model = AllowlistEntry
        fields = ["status"]


class AllowlistFilter(AllowlistEntryFilter):
    """Every release's allowlist entries, narrowed to one release."""

    release = filters.CharFilter(
        field_name="release__slug",
        max_length=SLUG_MAX,
        label="Release",
        # The allowlist page also has a propose form with a release field: ids stay unique.
        widget=Select(choices=release_choices("All releases"), attrs={"id": "rel-filter"}),
    )

    class Meta:
        model = AllowlistEntry
        fields = ["release", "status"]


# --- the audit log (R24) -------------------------------------------------------------------

# SPEC addresses these by a natural key, not an id: ``object_id`` may be either.
ADDRESS_FIELDS = {"release": "slug", "agency": "code", "user": "username"}


def object_ids(model: str, object_id: str) -> list[str]:
    """The ids ``object_id`` names: itself, and for a model addressed by a natural key
    (release slug, agency code, username) the id of every object that ever had that key
    (read from its history, so deleted or renamed objects are found too)."""
    ids = [str(object_id)]
    field = ADDRESS_FIELDS.get(model)
    if field:
        by_name = {t.name: t for t in tracked_models().values()}
        history = by_name[model].history_model.objects.filter(**{field: object_id})
        ids += [str(pk) for pk in history.values_list("id", flat=True).distinct()]
    return sorted(set(ids))


class AuditFilterForm(forms.Form):
    """The checks across fields of the audit filters."""

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Must be later than since.")
        if data.get("object_id") and not data.get("model"):
            self.add_error("model", "Name the model when filtering by object_id.")
        return data


_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"})


def _model_choices():
    return [(m, m) for m in model_names()]


class AuditRecordFilter(filters.FilterSet):
    model = filters.ChoiceFilter(
        choices=_model_choices, empty_label="Any", help_text="Lower-case model name."
    )
    object_id = filters.CharFilter(
        method="filter_object_id",
        max_length=64,
        label="Object id",
        help_text="An id (a release slug, agency code or username also); needs model.",
    )
    user = filters.CharFilter(
        field_name="actor", max_length=USERNAME_MAX, help_text="A username, or system:<task>."
    )
    since = DateTimeFilter(
        field_name="at", lookup_expr="gte", widget=_WHEN, help_text="ISO 8601; inclusive."
    )
    until = DateTimeFilter(
        field_name="at", lookup_expr="lt", widget=_WHEN, help_text="ISO 8601; exclusive."
    )
    action = filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any")

    class Meta:
        model = AuditRecord
        fields = ["model", "object_id", "user", "since", "until", "action"]
        form = AuditFilterForm

    def filter_object_id(self, queryset, name, value):
        return queryset.filter(object_id__in=object_ids(self.form.cleaned_data["model"], value))


AUDIT_FILTERS = tuple(AuditRecordFilter.base_filters)


# --- the reminder log (R19) ----------------------------------------------------------------


class ReminderFilter(filters.FilterSet):
    recipient = filters.ModelChoiceFilter(
        field_name="recipient",
        to_field_name="username",
        queryset=User.objects.order_by("username"),
        empty_label="Anyone",
    )
    kind = filters.ChoiceFilter(choices=ReminderKind.choices, empty_label="Any")
    sweep = filters.UUIDFilter(field_name="sweep_id", label="Sweep")
    since = DateTimeFilter(field_name="sent_at", lookup_expr="gte", label="Sent since")
    until = DateTimeFilter(field_name="sent_at", lookup_expr="lt", label="Sent before")

    class Meta:
        model = Reminder
        fields = ["recipient", "kind", "sweep", "since", "until"]


class EvidenceDocumentFilter(filters.FilterSet):
    """/evidence/ page and GET /api/v1/evidence/ (R37)."""

    q = filters.CharFilter(
        method="filter_q",
        max_length=NAME_MAX,
        label="Search",
        help_text="Title, file name or hash (prefix) contains.",
    )
    kind = filters.ChoiceFilter(choices=EvidenceKind.choices, empty_label="Any")
    agency = code_filter("agency__code")
    release = filters.CharFilter(
        field_name="releases__slug",
        max_length=SLUG_MAX,
        label="Release",
        help_text="Release slug.",
        widget=Select(choices=release_choices()),
    )
    sha256 = filters.CharFilter(max_length=64, label="SHA-256", help_text="The full hash.")

    class Meta:
        model = EvidenceDocument
        fields = ["q", "kind", "agency", "release", "sha256"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(
            Q(title__icontains=value)
            | Q(original_name__icontains=value)
            | Q(sha256__startswith=value.lower())
        )
