"""Pages of the transparency log (R34, R36): the latest checkpoint and its cosigners on the
audit page, a "verify against a checkpoint" form (paste a note kept outside), and the
admins' witness registry."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.audit import checkpoints
from compliance.audit.consistency import check_checkpoint
from compliance.models import AuditWitness
from compliance.web import once
from compliance.web.views import _add_errors, admin_required, audit_required

CHECKPOINT_RESULT = "audit_checkpoint_result"


class CheckpointVerifyForm(forms.Form):
    note = forms.CharField(
        label="Checkpoint note",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        max_length=20000,
        strip=False,
        help_text="Paste a checkpoint you kept: origin, size, root, a blank line, signatures.",
    )
    verifier_key = forms.CharField(
        label="Log verifier key",
        max_length=400,
        required=False,
        help_text="The key you trust for this log. Empty: the key this server shows.",
    )


class WitnessForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="The witness key's name.")
    verifier_key = forms.CharField(
        label="Verifier key",
        max_length=400,
        help_text="<name>+<hash>+<base64>, a cosignature/v1 (type 0x04) key.",
    )


def checkpoint_context(request) -> dict:
    """The audit page's checkpoint section: the latest checkpoint, its cosigners, the form."""
    latest = checkpoints.latest_checkpoint()
    try:
        key = checkpoints.verifier_key()
    except ImproperlyConfigured:
        key = None
    return {
        "checkpoint": checkpoints.checkpoint_json(latest) if latest else None,
        "verifier_key": key,
        "checkpoint_form": CheckpointVerifyForm(prefix="cp"),
        "checkpoint_result": request.session.pop(CHECKPOINT_RESULT, None),
    }


@audit_required
@once.post_only(lambda **_: reverse("web:audit") + "#checkpoint-h")
def checkpoint_verify(request):
    """Check a pasted checkpoint against today's ledger (a fork means a rewritten history);
    the result is shown once on the audit page."""
    form = CheckpointVerifyForm(request.POST, prefix="cp")
    if form.is_valid():
        key = form.cleaned_data["verifier_key"].strip()
        try:
            key = key or checkpoints.verifier_key()
        except ImproperlyConfigured as exc:
            result = {"ok": False, "problem": "no_key", "detail": str(exc)}
        else:
            result = check_checkpoint(form.cleaned_data["note"], key)
    else:
        result = {"ok": False, "problem": "bad_checkpoint", "detail": "Paste a checkpoint note."}
    request.session[CHECKPOINT_RESULT] = {**result, "at": timezone.now().isoformat()}
    return redirect(reverse("web:audit") + "#checkpoint-h")


@admin_required
@once.submit_once
def witness_list(request):
    form = WitnessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.register_witness(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            once.succeeded(request, f"Witness {form.cleaned_data['name']} registered.")
            return redirect("web:witnesses")
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "witnesses": AuditWitness.objects.order_by("name"), "nav": "audit"}
    return render(request, "compliance/witnesses.html", context, status=status)
