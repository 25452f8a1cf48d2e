"""``python manage.py create_runtime_role NAME [--password P]`` (run as the tables' owner,
after every ``migrate``): the least-privilege role the application connects as; see
``compliance.audit.least_privilege`` and docs/audit.md "Least privilege"."""

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.audit.least_privilege import grant_runtime_role


class Command(BaseCommand):
    help = "Create or update the runtime database role: no ownership, append-only grants."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password", default=None)

    def handle(self, *args, name, password, **options):
        try:
            result = grant_runtime_role(name, password=password)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, indent=2))
