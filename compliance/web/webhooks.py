"""Admin pages for webhook endpoints (R31): register, edit and filter events, rotate the
secret (shown once), send a test ping, read the delivery log with every attempt."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from compliance import services
from compliance.models import WebhookEndpoint, WebhookEvent
from compliance.web import once
from compliance.web.views import _add_errors, admin_required

SECRET_SESSION_KEY = "webhook_secret_once"


class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(max_length=500, required=False)
    events = forms.MultipleChoiceField(
        choices=[(e.value, e.value) for e in WebhookEvent if e != WebhookEvent.PING],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    active = forms.BooleanField(required=False, initial=True, label="Active")


def _webhook_url(pk, **_):
    return reverse("web:webhook", kwargs={"pk": pk})


def _show_secret_once(request, endpoint: WebhookEndpoint, secret: str) -> None:
    # The secret travels to the next page in the session and is removed as it is shown.
    request.session[SECRET_SESSION_KEY] = {"id": endpoint.pk, "secret": secret}


def _take_secret(request, endpoint: WebhookEndpoint) -> str | None:
    held = request.session.pop(SECRET_SESSION_KEY, None)
    return held["secret"] if held and held["id"] == endpoint.pk else None


@admin_required
@once.submit_once
def webhook_list(request):
    form = WebhookForm(request.POST or None, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.create_webhook(
                actor=request.user,
                url=data["url"],
                events=data["events"],
                description=data["description"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            _show_secret_once(request, endpoint, secret)
            once.succeeded(request, "Webhook registered.")
            return redirect("web:webhook", pk=endpoint.pk)
    endpoints = WebhookEndpoint.objects.order_by("id")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "compliance/webhooks.html",
        {"nav": "webhooks", "endpoints": endpoints, "form": form},
        status=status,
    )


@admin_required
@once.submit_once
def webhook_detail(request, pk: int):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
    }
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_webhook(endpoint, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            once.succeeded(request, "Webhook saved.")
            return redirect("web:webhook", pk=endpoint.pk)
    deliveries = endpoint.deliveries.prefetch_related("log").order_by("-created_at", "-id")[:50]
    return render(
        request,
        "compliance/webhook_detail.html",
        {
            "nav": "webhooks",
            "endpoint": endpoint,
            "form": form,
            "secret": _take_secret(request, endpoint),
            "deliveries": deliveries,
        },
        status=400 if request.method == "POST" else 200,
    )


@admin_required
@once.post_only(_webhook_url)
@once.submit_once
def webhook_rotate(request, pk: int):
    endpoint, secret = services.rotate_webhook_secret(
        get_object_or_404(WebhookEndpoint, pk=pk), actor=request.user
    )
    _show_secret_once(request, endpoint, secret)
    once.succeeded(request, "New secret issued: copy it now, it is not shown again.")
    return redirect("web:webhook", pk=endpoint.pk)


@admin_required
@once.post_only(_webhook_url)
@once.submit_once
def webhook_ping(request, pk: int):
    services.send_test_ping(get_object_or_404(WebhookEndpoint, pk=pk), actor=request.user)
    once.succeeded(request, "Test ping queued: its delivery shows below within seconds.")
    return redirect(reverse("web:webhook", kwargs={"pk": pk}) + "#deliveries")
