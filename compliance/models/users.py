"""History of users and their roles (group membership): R21 covers users' roles too."""

from django.contrib.auth import get_user_model
from simple_history import register

from compliance.audit.context import history_user_getter
from compliance.models.base import AuditedHistory, AuditedHistoryManager

User = get_user_model()

if not hasattr(User, "history"):
    register(
        User,
        app="compliance",
        m2m_fields=["groups"],
        excluded_fields=["password", "last_login"],
        bases=[AuditedHistory],
        get_user=history_user_getter,
        history_manager=AuditedHistoryManager,
    )
