"""Django admin for every Clearance model, with simple-history's history views.

The admin is not a way around the rules: state fields and decisions are read-only here,
editable fields are saved through the services (with the admin user as actor), deletes are
disabled and history cannot be reverted. A refusal becomes an error message, not a 500."""

from __future__ import annotations

import allauth.account.admin  # noqa: F401  (registers allauth's pages first: removed below)
import allauth.socialaccount.admin  # noqa: F401
import django.contrib.auth.admin  # noqa: F401  (registers its UserAdmin first: replaced below)
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from compliance import services
from compliance.errors import RuleViolation
from compliance.models import (
    Agency,
    AllowlistEntry,
    GovernmentRequest,
    Partner,
    Release,
    Role,
    SignOff,
    role_of,
)
from compliance.services import agencies as agency_services
from compliance.services import partners as partner_services
from compliance.services import releases as release_services
from compliance.services import requests as request_services
from compliance.services import users as user_services
from compliance.services.users import KEEP, ensure_user

User = get_user_model()


class _Refused(Exception):
    """A service refused the admin's change; carries the message to show."""


def _refusal_message(exc: Exception) -> str:
    if isinstance(exc, RuleViolation):
        return f"Refused: {exc.detail}"
    if isinstance(exc, ValidationError):
        return "Refused: " + "; ".join(exc.messages)
    return f"Refused: {exc}" if str(exc) else "Refused: your role may not do this."


class ChangeReasonForm(forms.ModelForm):
    """Every admin form asks why; the reason goes onto the history row (R7)."""

    change_reason = forms.CharField(
        required=False,
        label="Reason",
        help_text="Why you make this change (recorded in the history).",
        widget=forms.TextInput(attrs={"size": 80}),
    )


class ServiceAdmin(SimpleHistoryAdmin):
    """Base for every Clearance model admin: writes through services, no delete, no revert."""

    form = ChangeReasonForm
    # Model fields a service may set; everything else on the model is read-only.
    service_fields: tuple[str, ...] = ()
    # Of those, the ones a service sets only at creation (read-only on the change page).
    create_only_fields: tuple[str, ...] = ()

    # --- the services ------------------------------------------------------------------
    def create_object(self, request, data: dict, reason: str):
        raise NotImplementedError

    def update_object(self, request, obj, changes: dict, reason: str):
        raise NotImplementedError

    # --- read-only fields ----------------------------------------------------------------
    def get_readonly_fields(self, request, obj=None):
        editable = set(self.service_fields)
        if obj is not None:
            editable -= set(self.create_only_fields)
        opts = self.model._meta
        names = [f.name for f in (*opts.fields, *opts.many_to_many)]
        return [n for n in names if n not in editable and n != "id"]

    # --- saving through the services -----------------------------------------------------
    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason", "") or ""
        data = {
            name: form.cleaned_data[name]
            for name in self.service_fields
            if name in form.cleaned_data
        }
        try:
            if change:
                changes = {n: v for n, v in data.items() if n in form.changed_data}
                if not changes:
                    return
                saved = self.update_object(request, obj, changes, reason)
            else:
                saved = self.create_object(request, data, reason)
        except (RuleViolation, PermissionDenied, ValidationError) as exc:
            raise _Refused(_refusal_message(exc)) from exc
        # The admin goes on with ``obj`` (log entry, redirect): give it the saved row.
        for f in self.model._meta.concrete_fields:
            setattr(obj, f.attname, getattr(saved, f.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were written by the service (with history); never here.
        return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as exc:
            # The admin's transaction was rolled back: nothing half-done, no log entry.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- no deletes, no reverts ------------------------------------------------------------
    def has_delete_permission(self, request, obj=None):
        return False

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("History is read-only.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyAdmin(ServiceAdmin):
    """Rows written only by dedicated actions (decisions): viewable, never edited here."""

    form = forms.ModelForm

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Agency)
class AgencyAdmin(ServiceAdmin):
    list_display = ("code", "name", "contact_email", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    service_fields = ("code", *agency_services.AGENCY_FIELDS)
    create_only_fields = ("code",)

    def create_object(self, request, data, reason):
        return services.create_agency(actor=request.user, reason=reason, **data)

    def update_object(self, request, obj, changes, reason):
        return services.update_agency(obj, actor=request.user, reason=reason, **changes)


@admin.register(Partner)
class PartnerAdmin(ServiceAdmin):
    list_display = ("name", "country", "contact_email")
    list_filter = ("country",)
    search_fields = ("name", "contact_email")
    service_fields = partner_services.PARTNER_FIELDS

    def create_object(self, request, data, reason):
        return services.create_partner(actor=request.user, reason=reason, **data)

    def update_object(self, request, obj, changes, reason):
        return services.update_partner(obj, actor=request.user, reason=reason, **changes)


@admin.register(Release)
class ReleaseAdmin(ServiceAdmin):
    list_display = (
        "slug",
        "name",
        "status",
        "review_round",
        "owner",
        "target_date",
        "foreign_access_restricted",
    )
    list_filter = ("status", "foreign_access_restricted")
    list_select_related = ("owner",)
    search_fields = ("slug", "name")
    filter_horizontal = ("required_agencies",)
    # The foreign-access flag is set by directives (R13): read-only here like the state.
    service_fields = (
        "slug",
        *(f for f in release_services.EDITABLE_FIELDS if f != "foreign_access_restricted"),
    )
    create_only_fields = ("slug",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and "owner" in form.base_fields:
            # SPEC: a new release's owner defaults to the user who creates it.
            form.base_fields["owner"].required = False
        return form

    def create_object(self, request, data, reason):
        return services.create_release(actor=request.user, reason=reason, **data)

    def update_object(self, request, obj, changes, reason):
        return services.update_release(obj, actor=request.user, reason=reason, **changes)


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ("release", "round", "agency", "stage", "status", "due_at", "decided_at")
    list_filter = ("status", "stage", "agency")
    list_select_related = ("release", "agency")
    search_fields = ("release__slug",)


@admin.register(GovernmentRequest)
class GovernmentRequestAdmin(ServiceAdmin):
    list_display = (
        "reference",
        "agency",
        "kind",
        "binding",
        "status",
        "received_at",
        "due_at",
        "assignee",
    )
    list_filter = ("status", "kind", "binding", "agency")
    list_select_related = ("agency", "assignee")
    search_fields = ("reference", "summary")
    filter_horizontal = ("releases",)
    service_fields = ("agency", *request_services.EDITABLE_FIELDS)
    create_only_fields = ("agency",)

    def create_object(self, request, data, reason):
        return services.record_request(actor=request.user, reason=reason, **data)

    def update_object(self, request, obj, changes, reason):
        return services.update_request(obj, actor=request.user, reason=reason, **changes)


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(ServiceAdmin):
    """Proposals are made here; approve, reject and revoke are the allowlist actions (R14)."""

    list_display = ("release", "partner", "status", "proposed_by", "decided_by", "decided_at")
    list_filter = ("status",)
    list_select_related = ("release", "partner", "proposed_by", "decided_by")
    search_fields = ("release__slug", "partner__name")
    form = forms.ModelForm  # the proposal's note is its reason
    service_fields = ("release", "partner", "note")

    def has_change_permission(self, request, obj=None):
        return False

    def create_object(self, request, data, reason):
        return services.propose_allowlist_entry(
            data["release"], actor=request.user, partner=data["partner"], note=data["note"]
        )


class UserForm(ChangeReasonForm):
    """A user's role is one choice, saved by the users service (one history row per role
    change); the password is set there too (validated), never shown."""

    role = forms.ChoiceField(choices=Role.choices)
    new_password = forms.CharField(
        required=False,
        label="New password",
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the password (a new user then has none).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["role"].initial = role_of(self.instance)


# Single sign-on is configured by the environment only (R40) and keeps no rows of allauth's
# (compliance/web/oidc.py): its admin pages would invite settings that are never read.
for _model in (EmailAddress, SocialAccount, SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

# django.contrib.auth's UserAdmin writes the groups itself (a history row per group added or
# removed, a role-less state between): replaced by one that saves through the service.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(ServiceAdmin):
    """Users and their roles, through ``services.users.ensure_user`` like ``add_user``."""

    form = UserForm
    list_display = ("username", "email", "is_active", "is_staff", "last_login")
    list_filter = ("groups", "is_active")
    search_fields = ("username", "email")
    fields = (
        "username",
        "email",
        "role",
        "new_password",
        "change_reason",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )
    service_fields = ("username", "email", "role", "new_password", "is_active")
    create_only_fields = ("username",)

    def create_object(self, request, data, reason):
        return self._ensure(request, data["username"], data, reason)

    def update_object(self, request, obj, changes, reason):
        active = changes.pop("is_active", None)
        user = obj
        if changes or active:  # ensure_user also reactivates (revoking any old token)
            user = self._ensure(request, obj.username, {"role": role_of(obj), **changes}, reason)
        if active is False:  # the service deactivates and revokes every API token
            user = user_services.deactivate_user(user, actor=request.user, reason=reason)
        return user

    def _ensure(self, request, username, data, reason):
        user, _created, _changed = ensure_user(
            username,
            role=data["role"],
            actor=request.user,
            email=data.get("email"),
            password=data.get("new_password") or KEEP,
            reason=reason,
        )
        return user
