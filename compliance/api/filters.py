"""One FilterSet per listed model (NetBox style), shared by the API lists.

Filters by code, slug or username match exactly; an unknown value gives an empty list, while a
malformed value (a round that is not a number, an unknown status) is a 400."""

import django_filters as filters
from django import forms
from django.db.models import Q

from compliance.models import (
    Agency,
    AllowlistEntry,
    AllowlistStatus,
    GovernmentRequest,
    LabPosition,
    Partner,
    Release,
    ReleaseStatus,
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
    Stage,
)


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class AgencyFilter(filters.FilterSet):
    active = filters.BooleanFilter()

    class Meta:
        model = Agency
        fields = ["active"]


class PartnerFilter(filters.FilterSet):
    country = filters.CharFilter(method="filter_country", max_length=2, help_text="e.g. US")
    name = filters.CharFilter(lookup_expr="icontains", max_length=200)

    class Meta:
        model = Partner
        fields = ["country", "name"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.upper())


class ReleaseFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)
    owner = filters.CharFilter(field_name="owner__username", max_length=150)
    agency = filters.CharFilter(
        method="filter_agency", max_length=16, help_text="Releases that require this agency."
    )
    foreign_access_restricted = filters.BooleanFilter()
    q = filters.CharFilter(method="filter_q", max_length=200, help_text="Slug or name contains.")

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
    release = filters.CharFilter(field_name="release__slug", max_length=100, help_text="Slug.")
    agency = filters.CharFilter(field_name="agency__code", max_length=16, help_text="Code.")
    stage = filters.ChoiceFilter(choices=Stage.choices)
    status = filters.ChoiceFilter(choices=SignOffStatus.choices)
    round = IntegerFilter(min_value=0, max_value=2**31 - 1)

    class Meta:
        model = SignOff
        fields = ["release", "agency", "stage", "status", "round"]


class GovernmentRequestFilter(filters.FilterSet):
    agency = filters.CharFilter(field_name="agency__code", max_length=16, help_text="Code.")
    release = filters.CharFilter(
        method="filter_release", max_length=100, help_text="Requests naming this release."
    )
    kind = filters.ChoiceFilter(choices=RequestKind.choices)
    status = filters.MultipleChoiceFilter(choices=RequestStatus.choices)
    binding = filters.BooleanFilter()
    in_force = filters.BooleanFilter(method="filter_in_force", help_text="Not closed (R12).")
    assignee = filters.CharFilter(field_name="assignee__username", max_length=150)
    lab_position = filters.ChoiceFilter(choices=LabPosition.choices)

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
    status = filters.ChoiceFilter(choices=AllowlistStatus.choices)

    class Meta:
        model = AllowlistEntry
        fields = ["status"]
