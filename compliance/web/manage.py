"""Admin screens (SPEC "Pages"): agencies, partners, users and their roles. Each list page
creates, each edit page edits (and deactivates); every write is the API's own service (a
role change through ``ensure_user``). The Django admin stays for superusers."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from compliance import filters, services, validators
from compliance.models import Agency, Partner
from compliance.models.roles import PERSON_ROLES, Role, role_of
from compliance.services import users as user_services
from compliance.web import once
from compliance.web.views import _attempt, _filtered, admin_required

User = get_user_model()
REASON = forms.CharField(
    required=False,
    max_length=validators.REASON_MAX,
    widget=forms.Textarea(attrs={"rows": 2}),
    label="Why (recorded in the history)",
)


class AgencyForm(forms.ModelForm):
    reason = REASON

    class Meta:
        model = Agency
        fields = ["code", "name", "contact_email", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            del self.fields["code"]  # agencies are addressed by code: it never changes
        self.fields["active"].help_text = "An inactive agency is not required by new releases."

    def _post_clean(self):  # the service validates (full_clean) and writes
        pass

    def changes(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("code", "reason")}


class PartnerForm(forms.ModelForm):
    reason = REASON
    notes = forms.CharField(
        required=False, max_length=validators.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    class Meta:
        model = Partner
        fields = ["name", "country", "contact_email", "notes"]

    def _post_clean(self):
        pass

    def changes(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "reason"}


ROLE_CHOICES = [(r.value, r.label) for r in PERSON_ROLES]


class UserForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = forms.EmailField(required=False, max_length=254)
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    password = forms.CharField(
        required=False,
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep it (a new user then signs in only once one is set).",
    )
    reason = REASON

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            del self.fields["username"]


NAV = {"agency": "agencies", "partner": "partners", "user": "users", "user_deactivate": "users"}


def _list_page(request, template: str, context: dict, *, status=200):
    name = request.resolver_match.url_name
    context = {**context, "nav": NAV.get(name, name)}
    return render(request, f"compliance/manage/{template}", context, status=status)


def _edit(request, form, call, *, success, done, page):
    """GET shows ``form``; POST writes through ``call`` (web.views._attempt)."""
    if request.method != "POST":
        return page(refusal=None, status=200)
    return _attempt(
        request, form, call, success=success, done=done, rerender=page, page_url=request.path
    )


# --- agencies ----------------------------------------------------------------------------


@admin_required
@once.submit_once
def agency_list(request):
    form = AgencyForm(request.POST or None, initial={"active": True})

    def page(refusal, status):
        return _list_page(
            request,
            "agencies.html",
            {"agencies": Agency.objects.order_by("code"), "form": form, "refusal": refusal},
            status=status,
        )

    return _edit(
        request,
        form,
        lambda d: services.create_agency(actor=request.user, code=d["code"], **_without_code(d)),
        success=reverse("web:agencies"),
        done="Agency added.",
        page=page,
    )


def _without_code(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "code"}


@admin_required
@once.submit_once
def agency_edit(request, code):
    agency = get_object_or_404(Agency, code=code)
    form = AgencyForm(request.POST or None, instance=agency)

    return _reference_edit(
        request,
        form,
        lambda **changes: services.update_agency(agency, **changes),
        title=f"Agency {agency.code}",
        back=("web:agencies", "Agencies"),
        done=f"Agency {agency.code} saved.",
    )


# --- partners ----------------------------------------------------------------------------


@admin_required
@once.submit_once
def partner_list(request):
    """The list sorts (``o``) and searches (``q``) through the API's own PartnerFilter."""
    form = PartnerForm(request.POST or None)
    filterset, partners, filter_status = _filtered(
        filters.PartnerFilter, request, Partner.objects.order_by("name", "pk")
    )
    filterset.form.auto_id = "id_filter_%s"  # the add form below has the same field names

    def page(refusal, status):
        return _list_page(
            request,
            "partners.html",
            {"partners": partners, "filters": filterset, "form": form, "refusal": refusal},
            status=status if status != 200 else filter_status,
        )

    return _edit(
        request,
        form,
        lambda d: services.create_partner(actor=request.user, **d),
        success=reverse("web:partners"),
        done="Partner added.",
        page=page,
    )


@admin_required
@once.submit_once
def partner_edit(request, pk):
    partner = get_object_or_404(Partner, pk=pk)
    form = PartnerForm(request.POST or None, instance=partner)

    return _reference_edit(
        request,
        form,
        lambda **changes: services.update_partner(partner, **changes),
        title=f"Partner {partner.name}",
        back=("web:partners", "Partners"),
        done="Partner saved.",
    )


def _reference_edit(request, form, update, *, title, back, done):
    """The edit page of an agency or a partner: ``update(actor=, reason=, **changes)`` on a
    valid POST, then back to the list ``back`` (url name, label)."""
    back_url, back_label = reverse(back[0]), back[1]

    def page(refusal, status):
        return _list_page(
            request,
            "edit.html",
            {
                "title": title,
                "back": back_url,
                "form": form,
                "refusal": refusal,
                "back_label": back_label,
            },
            status=status,
        )

    return _edit(
        request,
        form,
        lambda d: update(actor=request.user, reason=d["reason"], **form.changes()),
        success=back_url,
        done=done,
        page=page,
    )


# --- users and roles ---------------------------------------------------------------------


def _password(data: dict):
    return data["password"] or user_services.KEEP


@admin_required
@once.submit_once
def user_list(request):
    form = UserForm(request.POST or None, initial={"role": Role.STAFF})

    def page(refusal, status):
        users = User.objects.order_by("username").prefetch_related("groups")
        rows = [{"user": u, "role": role_of(u) or "—"} for u in users]
        return _list_page(
            request,
            "users.html",
            {"rows": rows, "form": form, "refusal": refusal},
            status=status,
        )

    return _edit(
        request,
        form,
        lambda d: _create_user(d, actor=request.user),
        success=reverse("web:users"),
        done="User added.",
        page=page,
    )


def _create_user(data: dict, *, actor):
    if User.objects.filter(username=data["username"]).exists():
        raise ValidationError({"username": ["A user with that username already exists."]})
    return _ensure(data["username"], data, actor=actor)


def _ensure(username: str, data: dict, *, actor):
    """``ensure_user`` with the form's values; a password the validators refuse is an error
    on the password field."""
    try:
        return user_services.ensure_user(
            username,
            role=data["role"],
            actor=actor,
            password=_password(data),
            email=data["email"],
            reason=data["reason"],
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise ValidationError({"password": exc.messages}) from exc


@admin_required
@once.submit_once
def user_edit(request, username):
    user = get_object_or_404(User, username=username)
    form = UserForm(
        request.POST or None,
        user=user,
        initial={"email": user.email, "role": role_of(user) or Role.STAFF},
    )

    def page(refusal, status):
        return _list_page(
            request,
            "user_edit.html",
            {"subject": user, "form": form, "refusal": refusal, "role": role_of(user)},
            status=status,
        )

    return _edit(
        request,
        form,
        lambda d: _ensure(user.username, d, actor=request.user),
        success=reverse("web:user", args=[user.username]),
        done=f"User {user.username} saved.",
        page=page,
    )


class DeactivateForm(forms.Form):
    reason = REASON


@admin_required
@once.post_only(lambda username: reverse("web:user", args=[username]))
@once.submit_once
def user_deactivate(request, username):
    user = get_object_or_404(User, username=username)
    form = DeactivateForm(request.POST)
    return _attempt(
        request,
        form,
        lambda d: user_services.deactivate_user(user, actor=request.user, reason=d["reason"]),
        success=reverse("web:user", args=[user.username]),
        done=f"User {user.username} deactivated: they cannot sign in, their API tokens are revoked.",
        rerender=lambda refusal, status: _list_page(
            request,
            "user_edit.html",
            {"subject": user, "form": UserForm(user=user), "refusal": refusal},
            status=status,
        ),
    )
