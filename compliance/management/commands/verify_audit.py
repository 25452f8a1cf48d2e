"""R23: ``python manage.py verify_audit`` prints {"ok", "checked", "broken"} as JSON and
exits 1 when the chain is broken."""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain against the history tables."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workers",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="processes that share the history tables (PostgreSQL; default: up to 2)",
        )

    def handle(self, *args, **options):
        result = verify_chain(workers=max(1, options["workers"]))
        self.stdout.write(json.dumps(result, indent=2))
        if not result["ok"]:
            raise CommandError("audit chain is broken", returncode=1)
