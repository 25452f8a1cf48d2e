"""Forms for the pages. They only parse input: every rule is checked by the service called.
Text bounds and time checks come from ``compliance.validators``, the API's own."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from compliance import validators
from compliance.models import (
    Agency,
    AllowlistStatus,
    EvidenceDocument,
    GovernmentRequest,
    Partner,
    Release,
    ReleaseStatus,
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
)

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})
REASON = {"max_length": validators.REASON_MAX}
TEXT = {"max_length": validators.TEXT_MAX}


class OffsetDateTimeField(forms.DateTimeField):
    """A time the database can store: an offset of +16:00 or more is a field error."""

    default_validators = [validators.validate_utc_offset]


def _signoff_label(signoff: SignOff) -> str:
    return f"{signoff.agency.code} · {signoff.stage}"


class SignOffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _signoff_label(obj)


class SubmitForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Note (optional)", **REASON
    )


class TransitionForm(forms.Form):
    to = forms.ChoiceField(
        label="Move to",
        choices=[
            (s, ReleaseStatus(s).label)
            for s in (
                ReleaseStatus.LIMITED,
                ReleaseStatus.GENERAL,
                ReleaseStatus.SUSPENDED,
                ReleaseStatus.RETIRED,
            )
        ],
    )
    reason = forms.CharField(
        required=False,
        widget=REASON_WIDGET,
        help_text="Required to suspend or retire.",
        **REASON,
    )


class DecideSignOffForm(forms.Form):
    signoff = SignOffChoiceField(
        queryset=SignOff.objects.none(), label="Sign-off", empty_label="Choose agency and stage…"
    )
    decision = forms.ChoiceField(
        choices=[(SignOffStatus.APPROVED, "Approved"), (SignOffStatus.REJECTED, "Rejected")],
        widget=forms.RadioSelect,
        initial=SignOffStatus.APPROVED,
    )
    evidence = forms.CharField(
        required=False,
        widget=REASON_WIDGET,
        help_text="Required for an approval: letter reference, e-mail, meeting minutes.",
        **TEXT,
    )
    conditions = forms.CharField(required=False, widget=REASON_WIDGET, **TEXT)
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, help_text="Required for a rejection.", **REASON
    )
    documents = forms.ModelMultipleChoiceField(
        queryset=EvidenceDocument.objects.none(),
        required=False,
        label="Cited documents",
        help_text="Evidence documents of this release that the decision cites (R38).",
    )

    def __init__(self, *args, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signoff"].queryset = SignOff.objects.filter(
            release=release, round=release.review_round, status=SignOffStatus.PENDING
        ).select_related("agency")
        from compliance.audit.pack import release_documents

        self.fields["documents"].queryset = release_documents(release)


class WithdrawSignOffForm(forms.Form):
    signoff = SignOffChoiceField(
        queryset=SignOff.objects.none(), label="Approval", empty_label="Choose an approval…"
    )
    reason = forms.CharField(required=False, widget=REASON_WIDGET, **REASON)

    def __init__(self, *args, release: Release, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signoff"].queryset = SignOff.objects.filter(
            release=release, round=release.review_round, status=SignOffStatus.APPROVED
        ).select_related("agency")


class ProposeEntryForm(forms.Form):
    release = forms.ModelChoiceField(
        queryset=Release.objects.all(), to_field_name="slug", empty_label="Choose a release…"
    )
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.all(), empty_label="Choose a partner…"
    )
    note = forms.CharField(required=False, widget=REASON_WIDGET, **REASON)


class DecideEntryForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(AllowlistStatus.APPROVED, "Approve"), (AllowlistStatus.REJECTED, "Reject")]
    )
    vetted_by = forms.ModelChoiceField(
        queryset=Agency.objects.all(),
        to_field_name="code",
        required=False,
        label="Vetted by",
        empty_label="— not vetted —",
    )
    reason = forms.CharField(required=False, label="Reason", **REASON)
    documents = forms.ModelMultipleChoiceField(
        queryset=EvidenceDocument.objects.all(), required=False, label="Cited documents"
    )


class RevokeEntryForm(forms.Form):
    reason = forms.CharField(required=False, label="Reason", **REASON)


class AccessCheckForm(forms.Form):
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.all(), empty_label="Choose a partner…"
    )


class RecordRequestForm(forms.Form):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.all(), to_field_name="code", empty_label="Choose an agency…"
    )
    reference = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=RequestKind.choices)
    binding = forms.BooleanField(required=False, help_text="A mandatory directive.")
    received_at = OffsetDateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for now.",
    )
    due_at = OffsetDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    releases = forms.ModelMultipleChoiceField(
        queryset=Release.objects.all(), to_field_name="slug", required=False
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), **TEXT)
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        required=False,
        empty_label="Unassigned",
    )
    lab_position = forms.ChoiceField(
        choices=GovernmentRequest.Position.choices, initial=GovernmentRequest.Position.UNDECIDED
    )


class RequestStatusForm(forms.Form):
    status = forms.ChoiceField(choices=RequestStatus.choices)
    note = forms.CharField(required=False, widget=REASON_WIDGET, **REASON)
