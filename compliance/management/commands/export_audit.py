"""R24: ``python manage.py export_audit --format csv|jsonl --output FILE [filters]``,
streamed to the file in constant memory (blocks of whole lines, written as they come)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from compliance.audit.export import FORMATS, export_bytes
from compliance.audit.log import audit_records


class Command(BaseCommand):
    help = "Export the audit log (all of it, or filtered) as CSV or JSON lines."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, required=True)
        parser.add_argument("--output", required=True, help="File to write ('-': stdout).")
        parser.add_argument("--model")
        parser.add_argument("--object-id", dest="object_id")
        parser.add_argument("--user")
        parser.add_argument("--since", help="ISO 8601, inclusive")
        parser.add_argument("--until", help="ISO 8601, exclusive")
        parser.add_argument("--action", choices=["created", "changed", "deleted"])

    def handle(self, *args, **options):
        filters = {k: options[k] for k in ("model", "object_id", "user", "since", "until")}
        filters["action"] = options["action"]
        try:
            records = audit_records(**filters)
        except ValidationError as exc:
            raise CommandError(f"bad filter: {exc.message_dict}") from exc
        if options["output"] == "-":
            for block in export_bytes(records, options["format"]):
                self.stdout.write(block.decode("utf-8"), ending="")  # whole lines: whole chars
            return
        stats: dict = {}
        with open(options["output"], "wb") as handle:
            for block in export_bytes(records, options["format"], stats=stats):
                handle.write(block)
        self.stderr.write(f"wrote {stats['rows']} records to {options['output']}")
