from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Clearance"
    default_auto_field = "django.db.models.BigAutoField"

    def connect_signals(self) -> None:
        from compliance.audit import signals  # noqa: F401

    def ready(self) -> None:
        self.connect_signals()
