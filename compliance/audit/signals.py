"""History hooks: a durable actor label on every history row, and its ledger entry."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed
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


def _user_groups_history():
    """simple-history records ``user.groups.add(group)`` but fails on the reverse side
    (``group.user_set.add(user)``: it looks for history on the Group). Role changes are
    R21 history whichever side they are made from: one handler serves both."""
    user_model = get_user_model()
    through = user_model.groups.through
    for receiver_ in m2m_changed._live_receivers(through)[0]:
        func = getattr(receiver_, "func", None)
        if getattr(func, "__name__", "") == "m2m_changed" and receiver_.keywords == {
            "attr": "groups"
        }:
            records = func.__self__
            m2m_changed.disconnect(receiver_, sender=through)
            break
    else:  # pragma: no cover - simple-history changed: keep its handler
        return

    def groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
        if not reverse:
            records.m2m_changed(instance, action, "groups", pk_set, reverse)
            return
        if action == "pre_clear":
            instance._clearance_cleared = list(instance.user_set.values_list("pk", flat=True))
            return
        if action in ("post_add", "post_remove"):
            ids = pk_set or ()
        elif action == "post_clear":
            ids = instance.__dict__.pop("_clearance_cleared", [])
        else:
            return
        for user in user_model.objects.filter(pk__in=ids).order_by("pk"):
            if hasattr(instance, "_history_user"):  # the actor, stamped on the group
                user._history_user = instance._history_user
                user._change_reason = getattr(instance, "_change_reason", "")
            records.create_historical_record(user, "~")

    m2m_changed.connect(groups_changed, sender=through, weak=False, dispatch_uid="user_groups")


_user_groups_history()
