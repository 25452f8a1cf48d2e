"""Stamp every history row with a durable actor label (kept when a user is renamed or deleted)."""

from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

from compliance.audit.context import actor_label


@receiver(pre_create_historical_record)
def stamp_actor(sender, history_instance, history_user=None, **_kwargs) -> None:
    if hasattr(history_instance, "history_actor"):
        history_instance.history_actor = actor_label(history_user)
