"""R23: ``python manage.py verify_audit`` prints {"ok", "checked", "broken"} as JSON and
exits 1 when the chain is broken."""

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain against the history tables."

    def handle(self, *args, **options):
        result = verify_chain()
        self.stdout.write(json.dumps(result, indent=2))
        if not result["ok"]:
            raise CommandError("audit chain is broken", returncode=1)
