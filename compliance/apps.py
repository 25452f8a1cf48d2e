from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Clearance"
    default_auto_field = "django.db.models.BigAutoField"

    def connect_signals(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from compliance.audit import signals  # noqa: F401
        from compliance.web.timezones import on_login

        user_logged_in.connect(on_login, dispatch_uid="clearance-time-zone")

    def register_tasks(self) -> None:
        # Every process knows the tasks by name: the outbox sends them with send_task (and
        # runs them in place in eager mode) without importing compliance.tasks.
        from compliance import tasks  # noqa: F401

    def ready(self) -> None:
        self.connect_signals()
        self.register_tasks()
