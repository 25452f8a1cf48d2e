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
FilterSet's form.

Sorting and text search are filters too, so the page, the API list and the export agree:
``o`` (django-filter's ``OrderingFilter``: ``?o=name``, ``?o=-received_at``; an unknown column
is a 400) and ``q`` (a text search over the list's words; case-insensitive "contains")."""

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


def _linked(queryset: QuerySet, relation, **lookup) -> QuerySet:
    """The rows of ``queryset`` that the many-to-many ``relation`` (declared on its model)
    links to a row matching ``lookup``: a subquery, not a join, so no duplicate rows and no
    DISTINCT needed."""
    through = relation.through.objects.filter(**lookup)
    return queryset.filter(pk__in=through.values(relation.field.m2m_field_name()))


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


class DateFilter(filters.DateFilter):
    """A day, typed as a date input on the pages; ISO 8601 (YYYY-MM-DD) on the API."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        kwargs.setdefault("help_text", "YYYY-MM-DD.")
        super().__init__(*args, **kwargs)


def ordering(*columns: tuple[str, str]) -> filters.OrderingFilter:
    """``?o=<column>`` / ``?o=-<column>``: (field or lookup, public name) pairs. The pages
    render it as sortable column headers (``sort_header``), not in the filter bar."""
    return filters.OrderingFilter(
        fields=columns,
        label="Sort by",
        help_text="A column name; a leading '-' sorts descending.",
    )


def search(*lookups: str, label: str = "Search", help_text: str = "") -> filters.CharFilter:
    """``?q=``: rows where any of ``lookups`` contains the text (case-insensitive)."""

    def method(queryset, name, value):
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{f"{lookup}__icontains": value})
        return queryset.filter(condition)

    return filters.CharFilter(
        method=method,
        max_length=NAME_MAX,
        label=label,
        help_text=help_text or "Contains, any case.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )


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
    q = search("name", "contact_email", "notes", help_text="Name, e-mail or notes contain.")
    o = ordering(("name", "name"), ("country", "country"), ("contact_email", "email"))

    class Meta:
        model = Partner
        fields = ["country", "name", "q", "o"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())


class ReleaseFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)
    owner = username_filter("owner__username", "Owner")
    agency = code_filter(None, method="filter_agency", help_text="Releases that require it.")
    foreign_access_restricted = BooleanFilter(labels=("US only", "Open"), label="Foreign access")
    q = filters.CharFilter(
        method="filter_q",
        max_length=NAME_MAX,
        label="Search",
        help_text="Slug or name contains.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    target_after = DateFilter(field_name="target_date", lookup_expr="gte", label="Target from")
    target_before = DateFilter(field_name="target_date", lookup_expr="lte", label="Target until")
    o = ordering(
        ("name", "name"),
        ("slug", "slug"),
        ("status", "status"),
        ("review_round", "round"),
        ("target_date", "target_date"),
        ("foreign_access_restricted", "foreign_access"),
        ("owner__username", "owner"),
    )

    class Meta:
        model = Release
        fields = [
            "status",
            "owner",
            "agency",
            "foreign_access_restricted",
            "q",
            "target_after",
            "target_before",
            "o",
        ]

    def filter_agency(self, queryset, name, value):
        return _linked(queryset, Release.required_agencies, agency__code=value)

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
        label="Release",
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
    received_after = DateFilter(
        field_name="received_at", lookup_expr="date__gte", label="Received from"
    )
    received_before = DateFilter(
        field_name="received_at", lookup_expr="date__lte", label="Received until"
    )
    q = search(
        "reference",
        "summary",
        "agency__code",
        "response",
        help_text="Reference, agency, summary or response contain.",
    )
    o = ordering(
        ("agency__code", "agency"),
        ("reference", "reference"),
        ("kind", "kind"),
        ("status", "status"),
        ("received_at", "received_at"),
        ("due_at", "due_at"),
        ("assignee__username", "assignee"),
    )

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
            "received_after",
            "received_before",
            "q",
            "o",
        ]

    def filter_release(self, queryset, name, value):
        return _linked(queryset, GovernmentRequest.releases, release__slug=value)

    def filter_in_force(self, queryset, name, value):
        in_force = GovernmentRequest.objects.in_force().values("pk")
        return queryset.filter(pk__in=in_force) if value else queryset.exclude(pk__in=in_force)


class AllowlistEntryFilter(filters.FilterSet):
    """One release's allowlist (the release is in the path)."""

    status = filters.ChoiceFilter(choices=AllowlistStatus.choices, empty_label="Any")
    q = search("partner__name", "note", "reason", help_text="Partner, note or reason contain.")
    o = ordering(
        ("release__slug", "release"),
        ("partner__name", "partner"),
        ("partner__country", "country"),
        ("status", "status"),
        ("proposed_by__username", "proposed_by"),
        ("decided_at", "decided_at"),
    )

    class Meta:
        model = AllowlistEntry
        fields = ["status", "q", "o"]


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
        fields = ["release", "status", "q", "o"]


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


OLDEST_FIRST = "at"  # ``?o=at``: the audit log oldest first (``-at``, the default: newest)

_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"})


def time_window(
    field: str, labels: tuple[str, str], help_texts: tuple[str, str]
) -> tuple[DateTimeFilter, DateTimeFilter]:
    """``since`` (at or after, inclusive) and ``until`` (before, exclusive) on the time
    ``field``, typed as a date-time input on the pages."""
    since, until = (
        DateTimeFilter(
            field_name=field, lookup_expr=lookup, label=label, widget=_WHEN, help_text=text
        )
        for lookup, label, text in zip(("gte", "lt"), labels, help_texts, strict=True)
    )
    return since, until


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
        field_name="actor",
        max_length=USERNAME_MAX,
        label="User",
        help_text="A username, or system:<task>.",
    )
    since, until = time_window(
        "at",
        ("Since", "Until"),
        (
            "ISO 8601 (YYYY-MM-DDTHH:MM:SS); inclusive; without an offset, in your zone.",
            "ISO 8601 (YYYY-MM-DDTHH:MM:SS); exclusive; without an offset, in your zone.",
        ),
    )
    action = filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any")
    release = filters.CharFilter(
        method="filter_release",
        max_length=SLUG_MAX,
        label="Release",
        help_text="A release slug: the release, its sign-offs, allowlist entries and requests.",
        widget=Select(choices=release_choices(), attrs={"id": "id_audit_release"}),
    )
    q = search(
        "object_repr",
        "reason",
        "actor",
        "object_id",
        help_text="Object, reason or user contain.",
    )
    # The log is walked by its sequence (keyset pages): newest or oldest first.
    o = ordering(("seq", OLDEST_FIRST))

    class Meta:
        model = AuditRecord
        fields = ["model", "object_id", "user", "since", "until", "action", "release", "q", "o"]
        form = AuditFilterForm

    def filter_object_id(self, queryset, name, value):
        return queryset.filter(object_id__in=object_ids(self.form.cleaned_data["model"], value))

    def filter_release(self, queryset, name, value):
        from compliance.audit.log import release_history_records

        release = Release.objects.filter(slug=value).first()
        if release is None:
            return queryset.none()
        return queryset.filter(seq__in=release_history_records(release).values("seq"))


AUDIT_FILTERS = tuple(AuditRecordFilter.base_filters)
# Sorting is not narrowing: the unfiltered log's count is its head's sequence number.
AUDIT_NARROWING = tuple(name for name in AUDIT_FILTERS if name != "o")


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
    since, until = time_window(
        "sent_at",
        ("Sent since", "Sent before"),
        ("ISO 8601 (YYYY-MM-DDTHH:MM); without an offset, in your time zone.",) * 2,
    )
    q = search("subject", "email", help_text="Subject or address contain.")
    o = ordering(
        ("sent_at", "sent_at"),
        ("kind", "kind"),
        ("recipient__username", "recipient"),
        ("subject", "subject"),
    )

    class Meta:
        model = Reminder
        fields = ["recipient", "kind", "sweep", "since", "until", "q", "o"]


class EvidenceDocumentFilter(filters.FilterSet):
    """/evidence/ page and GET /api/v1/evidence/ (R37)."""

    q = search(
        "title",
        "original_name",
        "sha256",
        help_text="Title, file name or SHA-256 (part of it) contain.",
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
    o = ordering(
        ("title", "title"),
        ("kind", "kind"),
        ("agency__code", "agency"),
        ("uploaded_at", "uploaded_at"),
        ("received_at", "received_at"),
        ("size", "size"),
    )

    class Meta:
        model = EvidenceDocument
        fields = ["q", "kind", "agency", "release", "sha256", "o"]
