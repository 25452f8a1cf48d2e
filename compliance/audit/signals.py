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
        # simple-history saves it next, then sends post_create_historical_record, whose
        # receiver below chains it: its INSERT may read back what the append needs.
        from compliance.audit.ledger import mark_for_fold

        mark_for_fold(history_instance)


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


User = get_user_model()


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="user_groups_from_group_side")
def role_change_from_group_side(sender, instance, action, reverse, pk_set, using, **_kwargs):
    """R21 for ``group.user_set.add(user)`` (and remove, clear): a role change whichever side
    it is made from. simple-history records ``user.groups.add(group)`` itself, but on the
    group side it would look for history on the Group (it has none) and fail. So the group
    is marked with simple-history's documented per-instance switch
    (``skip_history_when_saving``) before the change, and after it the change is announced
    again from each user's side, where simple-history's own receiver records it: one user
    history row per user, with the actor and reason stamped on the group."""
    if not reverse:
        return  # the user side: simple-history's receiver records it
    if action.startswith("pre_"):
        instance.skip_history_when_saving = True
        if action == "pre_clear":
            instance._clearance_cleared = list(instance.user_set.values_list("pk", flat=True))
        return
    ids = pk_set or ()
    if action == "post_clear":
        ids = getattr(instance, "_clearance_cleared", [])
        del instance._clearance_cleared
    # simple-history's receiver was connected first (when User was registered), so it has
    # seen the switch by now (were it not, it would fail loudly on the Group, not record
    # anything wrong): the group is an ordinary object again.
    del instance.skip_history_when_saving
    as_user_side = "post_add" if action == "post_add" else "post_remove"
    for user in User.objects.using(using).filter(pk__in=ids).order_by("pk"):
        if hasattr(instance, "_history_user"):  # the actor, stamped on the group
            user._history_user = instance._history_user
            user._change_reason = getattr(instance, "_change_reason", "")
        m2m_changed.send(
            sender=sender,
            instance=user,
            action=as_user_side,
            reverse=False,
            model=type(instance),
            pk_set={instance.pk},
            using=using,
        )
