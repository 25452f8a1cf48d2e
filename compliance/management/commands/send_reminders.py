"""Run one reminder sweep now, in this process (no worker needed)."""

import json

from django.core.management.base import BaseCommand

from compliance.audit.context import system_actor
from compliance.notifications.sweep import run_sweep


class Command(BaseCommand):
    help = "Run one reminder sweep now (R17–R19) and deliver pending notifications (R20)."

    def handle(self, *args, **options):
        with system_actor("send_reminders"):
            result = run_sweep()
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
