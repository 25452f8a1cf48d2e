"""The test run's ``flush`` (pytest-django resets ``transaction=True`` tests with it): Django's
own, with the append-only triggers ignored for its TRUNCATE (``pgtrigger.ignore``, which
lasts for the flush's own transaction only). Overrides the built-in command the documented
way: an installed app's command of the same name wins. Only config/test_settings.py
installs this app, so production has no such path."""

import pgtrigger
from django.core.management.commands import flush

from compliance.models.base import append_only_uris


class Command(flush.Command):
    def handle(self, **options):
        with pgtrigger.ignore(*append_only_uris()):
            return super().handle(**options)
