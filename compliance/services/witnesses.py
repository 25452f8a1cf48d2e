"""Witnesses and their cosignatures (R36). Admins register a witness by its note verifier
key (type 0x04, C2SP cosignature/v1); anyone signed in may post a cosignature, which is
kept only when it verifies against a registered witness's key over that checkpoint: the
signature is the authority, not the poster."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.audit import notes
from compliance.audit.checkpoints import checkpoint_body
from compliance.models import AuditCheckpoint, AuditCosignature, AuditWitness
from compliance.services.common import require_admin, save, service_transaction

# A cosignature dated further ahead than this is refused (C2SP: verifiers MAY reject the
# future); the witness's clock and ours may differ a little.
FUTURE_SKEW = dt.timedelta(minutes=5)


@service_transaction
def register_witness(*, actor: User, name: str, verifier_key: str) -> AuditWitness:
    """R36: register a witness (admins). Its key must be a cosignature/v1 verifier key whose
    name is the witness's name."""
    require_admin(actor)
    name, verifier_key = (name or "").strip(), (verifier_key or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["This field is required."]
    try:
        key = notes.parse_verifier_key(verifier_key, key_type=notes.COSIGNATURE_V1)
    except notes.NoteError as exc:
        errors["verifier_key"] = [f"Not a cosignature/v1 verifier key: {exc}."]
    else:
        if name and key.name != name:
            errors["verifier_key"] = [f"The key is named {key.name!r}, not {name!r}."]
    if name and AuditWitness.objects.filter(name=name).exists():
        errors["name"] = ["A witness with this name is already registered."]
    if verifier_key and AuditWitness.objects.filter(verifier_key=verifier_key).exists():
        errors.setdefault("verifier_key", []).append("This key is already registered.")
    if errors:
        raise ValidationError(errors)
    witness = AuditWitness(
        name=name, verifier_key=verifier_key, created_at=timezone.now(), created_by=actor
    )
    return save(witness, actor=actor, reason=f"witness {name} registered")


def _cosignature_lines(text: str) -> list[str]:
    """The signature lines of a posted body: bare lines, or a whole note (its text must then
    be this checkpoint's, which the signatures prove anyway)."""
    lines = [line for line in (text or "").replace("\r\n", "\n").split("\n") if line.strip()]
    return [line for line in lines if line.startswith(notes.DASH)] if lines else []


def _verified(
    line: str, body: str, witnesses: dict[str, AuditWitness], now: dt.datetime
) -> tuple[AuditWitness, dt.datetime]:
    try:
        name = notes.parse_signature_line(line)[0]
    except notes.NoteError as exc:
        raise ValidationError({"cosignature": [f"Not a signature line: {exc}."]}) from exc
    witness = witnesses.get(name)
    if witness is None:
        raise ValidationError({"cosignature": [f"{name!r} is not a registered witness."]})
    try:
        stamp = notes.verify_cosignature(line, body, notes.parse_verifier_key(witness.verifier_key))
    except notes.NoteError as exc:
        raise ValidationError({"cosignature": [f"Refused: {exc}."]}) from exc
    signed_at = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
    if signed_at > now + FUTURE_SKEW:
        raise ValidationError({"cosignature": ["The cosignature is dated in the future."]})
    return witness, signed_at


@service_transaction
def add_cosignatures(
    checkpoint: AuditCheckpoint, *, text: str, actor: User
) -> list[AuditCosignature]:
    """R36: keep the posted cosignature line(s) over ``checkpoint`` when every one verifies
    against a registered witness key (C2SP cosignature/v1); otherwise a ValidationError (a
    400) and nothing stored. A line already kept is not stored twice."""
    # A whole cosigned note may be posted: the log's own signature line is not a cosignature.
    own = set(checkpoint.note.splitlines())
    lines = [line for line in _cosignature_lines(text) if line not in own]
    if not lines:
        raise ValidationError({"cosignature": ["Post one or more cosignature lines (— name …)."]})
    body, now = checkpoint_body(checkpoint), timezone.now()
    witnesses = {w.name: w for w in AuditWitness.objects.all()}
    verified = [(line, *_verified(line, body, witnesses, now)) for line in lines]
    kept = []
    for line, witness, signed_at in verified:
        cosignature = AuditCosignature(
            checkpoint=checkpoint,
            witness=witness,
            line=line,
            signed_at=signed_at,
            received_at=now,
        )
        try:
            with transaction.atomic():
                cosignature.save(force_insert=True)
        except IntegrityError:  # this witness's cosignature of that time is already kept
            cosignature = AuditCosignature.objects.get(
                checkpoint=checkpoint, witness=witness, signed_at=signed_at
            )
        kept.append(cosignature)
    return kept
