"""Forms for the pages. They only parse input: every rule is checked by the service called.
Text bounds and time checks come from ``compliance.validators``, the API's own."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance import validators
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
    RequestKind,
    RequestStatus,
    SignOff,
    SignOffStatus,
)
from compliance.services.releases import EDITABLE_FIELDS

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})
REASON = {"max_length": validators.REASON_MAX}
TEXT = {"max_length": validators.TEXT_MAX}


class OffsetDateTimeField(forms.DateTimeField):
    """A time the database can store: an offset of +16:00 or more is a field error."""

    default_validators = [validators.validate_utc_offset]


class LocalDateTimeField(OffsetDateTimeField):
    """A ``datetime-local`` input read in the user's display zone (activated per request by
    compliance.web.timezones), its zone named next to it."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, note: str = "", **kwargs):
        self.note = note
        super().__init__(**kwargs)

    def zone_help(self) -> str:
        zone = timezone.get_current_timezone_name()
        return f"In your time zone, {zone}." + (f" {self.note}" if self.note else "")


class ZonedForm(forms.Form):
    """A form whose ``LocalDateTimeField`` help texts name the zone of this request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, LocalDateTimeField):
                field.help_text = field.zone_help()


def _signoff_label(signoff: SignOff) -> str:
    return f"{signoff.agency.code} · {signoff.stage}"


class SignOffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _signoff_label(obj)


class SubmitForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Note (optional)", **REASON
    )


TRANSITION_TARGETS = (
    ReleaseStatus.LIMITED,
    ReleaseStatus.GENERAL,
    ReleaseStatus.SUSPENDED,
    ReleaseStatus.RETIRED,
)


def transition_choices(release: Release | None) -> list[tuple[str, str]]:
    """The states ``release`` may be moved to from its own (never its current state; the
    rules still decide), after an empty first choice so that nothing is preselected."""
    from compliance.services.releases import ALLOWED  # the services import the forms' models

    targets = [
        s
        for s in TRANSITION_TARGETS
        if release is None or (s != release.status and release.status in ALLOWED[s])
    ]
    return [("", "Choose a state…"), *((s, ReleaseStatus(s).label) for s in targets)]


class TransitionForm(forms.Form):
    to = forms.ChoiceField(label="Move to", choices=transition_choices(None))
    reason = forms.CharField(
        required=False,
        widget=REASON_WIDGET,
        help_text="Required to suspend or retire.",
        **REASON,
    )

    def __init__(self, *args, release: Release | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if release is not None:
            self.fields["to"].choices = transition_choices(release)


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


class RecordRequestForm(ZonedForm):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.all(), to_field_name="code", empty_label="Choose an agency…"
    )
    reference = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=RequestKind.choices)
    binding = forms.BooleanField(required=False, help_text="A mandatory directive.")
    received_at = LocalDateTimeField(required=False, note="Leave empty for now.")
    due_at = LocalDateTimeField(required=False)
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


# --- create and edit (SPEC "Pages": every API write has a page) ---------------------------


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class ReleaseForm(forms.ModelForm):
    """A release's editable fields (the API's ReleaseSerializer); the cap only for admins."""

    owner = forms.ModelChoiceField(
        queryset=active_users(), to_field_name="username", required=False, empty_label="Me"
    )
    required_agencies = forms.ModelMultipleChoiceField(
        queryset=Agency.objects.order_by("code"),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        help_text="At least one. Changing them while in review starts a new round.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), **TEXT)
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Why (recorded in the history)", **REASON
    )

    class Meta:
        model = Release
        fields = ["slug", *EDITABLE_FIELDS]  # what the release service may change, and the slug
        widgets = {"target_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, admin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not admin:
            del self.fields["partner_cap"]  # SPEC roles: admins set caps
        if self.instance.pk is not None:
            del self.fields["slug"]  # releases are addressed by slug: it never changes
        else:
            self.fields["required_agencies"].initial = list(Agency.objects.active())
        self.fields["owner"].required = self.instance.pk is not None
        for name in ("review_days", "partner_cap"):  # empty: the default, as in the API
            if name in self.fields:
                self.fields[name].required = False

    def _post_clean(self):
        # The service validates and writes; the form must not touch the instance it edits.
        pass

    def changes(self) -> dict:
        return {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("slug", "reason")
            and not (v is None and k in ("review_days", "partner_cap"))
        }


class EditsWhatWasShown:
    """An edit form whose page carries what it showed (each field's hidden initial value),
    so that ``changes()`` holds only what this user changed there and the object does not
    hold already (``initial``: the object now, read when the form is built): re-saving an
    unchanged page writes nothing, and an edit someone else saved meanwhile is kept. Links
    (``LINKS``) are merged: this user's additions and removals, relative to the links the
    page showed, applied to the object's links now. A time (``TIMES``) shown to the minute
    and sent back unchanged keeps its seconds."""

    LINKS: tuple[str, ...] = ()
    TIMES: tuple[str, ...] = ()

    def carry_what_is_shown(self) -> None:
        for name, field in self.fields.items():
            field.show_hidden_initial = name != "reason"

    def changes(self) -> dict:
        out = {}
        for name in self.changed_data:
            if name == "reason":
                continue
            value, now = self.cleaned_data.get(name), self.initial.get(name)
            if name in self.LINKS:
                links = self._merged(name, value, now)
                if {o.pk for o in links} != {o.pk for o in now}:
                    out[name] = links
            elif name in self.TIMES and None not in (value, now):
                if value not in (now, now.replace(second=0, microsecond=0)):
                    out[name] = value
            elif value != now:
                out[name] = value
        return out

    def _merged(self, name: str, posted, now: list) -> list:
        """The links now, with what this user added and without what they removed, relative
        to the links the page showed (none sent: it showed none)."""
        raw = self.data.getlist(self.add_initial_prefix(name))
        try:
            shown = {o.pk for o in self.fields[name].clean(raw)}
        except ValidationError:  # a link shown then names nothing now: none to remove
            shown = set()
        posted_pks = {o.pk for o in posted}
        added, removed = posted_pks - shown, shown - posted_pks
        keep = [o for o in now if o.pk not in removed]
        kept = {o.pk for o in keep}
        return keep + [o for o in posted if o.pk in added and o.pk not in kept]


class RequestEditForm(EditsWhatWasShown, ZonedForm):
    """A request's editable fields (the API's PATCH): the agency never changes. The page
    carries what it showed: an edit saved meanwhile by someone else is kept."""

    LINKS = ("releases",)
    TIMES = ("received_at", "due_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.carry_what_is_shown()

    reference = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=RequestKind.choices)
    binding = forms.BooleanField(required=False, help_text="A mandatory directive.")
    received_at = LocalDateTimeField()
    due_at = LocalDateTimeField(required=False)
    releases = forms.ModelMultipleChoiceField(
        queryset=Release.objects.order_by("slug"), to_field_name="slug", required=False
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), **TEXT)
    assignee = forms.ModelChoiceField(
        queryset=active_users(), to_field_name="username", required=False, empty_label="Unassigned"
    )
    lab_position = forms.ChoiceField(choices=GovernmentRequest.Position.choices)
    response = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), **TEXT)
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Why (recorded in the history)", **REASON
    )

    @classmethod
    def initial_of(cls, req: GovernmentRequest) -> dict:
        names = [n for n in cls.base_fields if n not in ("releases", "assignee", "reason")]
        return {
            **{n: getattr(req, n) for n in names},
            "releases": list(req.releases.all()),
            "assignee": req.assignee,
        }


class LabelledChoices(forms.ModelMultipleChoiceField):
    """Link targets labelled for people (``label_of``): the models' own ``str`` is what the
    audit log keeps, ids and all."""

    def __init__(self, *, label_of, **kwargs):
        self.label_of = label_of
        super().__init__(**kwargs)

    def label_from_instance(self, obj) -> str:
        return self.label_of(obj)


class EvidenceEditForm(EditsWhatWasShown, ZonedForm):
    """A document's metadata and links (the API's PATCH, R37/R38): never its bytes, hash or
    size. The page carries what it showed (hidden initial values), so ``changes()`` holds
    only what this user changed: re-saving writes nothing, and an edit someone else saved
    meanwhile is kept, links included (this user's additions and removals are applied to
    the document's links as they are now)."""

    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=EvidenceKind.choices)
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label="—",
    )
    received_at = LocalDateTimeField(required=False, label="Letter dated")
    supersedes = forms.ModelChoiceField(
        queryset=EvidenceDocument.objects.none(),
        required=False,
        empty_label="— none —",
        help_text="The earlier version this document replaces.",
    )
    releases = forms.ModelMultipleChoiceField(
        queryset=Release.objects.order_by("slug"), to_field_name="slug", required=False
    )
    requests = LabelledChoices(
        queryset=GovernmentRequest.objects.select_related("agency").order_by("-received_at"),
        label_of=lambda r: f"{r.agency.code} {r.reference}",
        required=False,
    )
    signoffs = LabelledChoices(
        queryset=SignOff.objects.select_related("release", "agency").order_by(
            "release__slug", "round", "agency__code", "stage"
        ),
        label_of=lambda s: (
            f"{s.release.slug} · {s.agency.code} {s.stage}, round {s.round} ({s.status})"
        ),
        required=False,
        label="Sign-offs",
    )
    allowlist_entries = LabelledChoices(
        queryset=AllowlistEntry.objects.select_related("release", "partner").order_by(
            "release__slug", "partner__name"
        ),
        label_of=lambda e: f"{e.release.slug} · {e.partner.name} ({e.status})",
        required=False,
        label="Allowlist entries",
    )
    reason = forms.CharField(
        required=False, widget=REASON_WIDGET, label="Why (recorded in the history)", **REASON
    )

    LINKS = ("releases", "requests", "signoffs", "allowlist_entries")
    TIMES = ("received_at",)

    def __init__(self, *args, document: EvidenceDocument, **kwargs):
        super().__init__(*args, initial=self.initial_of(document), **kwargs)
        self.fields["supersedes"].queryset = EvidenceDocument.objects.exclude(
            pk=document.pk
        ).order_by("-uploaded_at")
        self.carry_what_is_shown()

    @classmethod
    def initial_of(cls, document: EvidenceDocument) -> dict:
        return {
            "title": document.title,
            "kind": document.kind,
            "agency": document.agency,
            "received_at": document.received_at,
            "supersedes": document.supersedes,
            **{name: list(getattr(document, name).all()) for name in cls.LINKS},
        }
