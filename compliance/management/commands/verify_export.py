"""Check an exported audit file's hash chain offline: ``verify_export FILE``."""

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.offline import verify_file


class Command(BaseCommand):
    help = "Check an export_audit file (JSONL or CSV): every line's hash and every link."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, **options):
        result = verify_file(options["path"])
        self.stdout.write(json.dumps(result, indent=2))
        if not result["ok"]:
            raise CommandError("export does not verify", returncode=1)
