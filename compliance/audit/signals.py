"""History hooks: a durable actor label on every history row, and its ledger entry."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from simple_history.signals import post_create_historical_record, pre_create_historical_record

from compliance.audit.context import actor_label


@receiver(pre_create_historical_record)
def stamp_actor(sender, history_instance, history_user=None, **_kwargs) -> None:
    if hasattr(history_instance, "history_actor"):
        history_instance.history_actor = actor_label(history_user)


@receiver(post_create_historical_record)
def chain_history_record(sender, instance, history_instance, using=None, **_kwargs) -> None:
    """R23: the history row (and its m2m rows, already written) joins the hash chain."""
    from compliance.audit.ledger import append
    from compliance.audit.registry import by_history_model

    tracked = by_history_model(sender)
    if tracked is not None:
        append(tracked, history_instance, instance, using=using or history_instance._state.db)


def update_last_login_without_history(sender, user, **_kwargs) -> None:
    """Django's own update_last_login, minus an empty history row per login: last_login is
    excluded from user history (compliance/models/users.py), so such a row records nothing."""
    user.last_login = timezone.now()
    user.skip_history_when_saving = True
    try:
        user.save(update_fields=["last_login"])
    finally:
        del user.skip_history_when_saving


user_logged_in.disconnect(dispatch_uid="update_last_login")
user_logged_in.connect(update_last_login_without_history, dispatch_uid="update_last_login")
