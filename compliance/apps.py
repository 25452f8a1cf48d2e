from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Clearance"
    default_auto_field = "django.db.models.BigAutoField"

    def connect_signals(self) -> None:
        from compliance.audit import signals  # noqa: F401

    def register_tasks(self) -> None:
        # Every process knows the tasks by name: the outbox sends them with send_task (and
        # runs them in place in eager mode) without importing compliance.tasks.
        from compliance import tasks  # noqa: F401

    def ready(self) -> None:
        self.connect_signals()
        self.register_tasks()
