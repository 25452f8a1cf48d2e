"""Gateway pages (R25–R30): the registry (auditors and admins read, admins register; the
token is shown once, on the page that registered it), and the enforcement lines the
request and release pages show."""

from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from compliance import enforcement, services
from compliance.models import Gateway
from compliance.web import once
from compliance.web.views import _add_errors, admin_required, audit_required


class GatewayForm(forms.Form):
    name = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ (e.g. gw-us-east).",
    )


def _page(request, *, form=None, token=None, status=200):
    return render(
        request,
        "compliance/gateways.html",
        {
            "rows": enforcement.gateway_rows(),
            "form": form or GatewayForm(),
            "token": token,
            "nav": "gateways",
        },
        status=status,
    )


@audit_required
def gateway_list(request):
    return _page(request)


@admin_required
@once.post_only(lambda **_: reverse("web:gateways"))
@once.submit_once
def gateway_register(request):
    form = GatewayForm(request.POST)
    if form.is_valid():
        try:
            gateway, token = services.create_gateway(
                actor=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            # Rendered, not redirected: the token exists in clear only in this response.
            return _page(request, token={"name": gateway.name, "key": token}, status=201)
    return _page(request, form=form, status=400)


@admin_required
@once.post_only(lambda **_: reverse("web:gateways"))
@once.submit_once
def gateway_active(request, name):
    """Admins take a gateway out of enforcement (it is no longer waited for, R29, nor alerted
    on, R30) or put it back."""
    gateway = get_object_or_404(Gateway, name=name)
    active = request.POST.get("active") == "1"
    services.set_gateway_active(
        gateway, actor=request.user, active=active, reason=request.POST.get("reason", "")[:2000]
    )
    once.succeeded(request, f"Gateway {gateway.name} {'reactivated' if active else 'deactivated'}.")
    return redirect("web:gateways")
