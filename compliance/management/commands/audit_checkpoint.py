"""R34: ``python manage.py audit_checkpoint`` signs a checkpoint of the tree now (when it
grew since the latest one) and prints the latest checkpoint note."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from compliance.audit.checkpoints import CheckpointError, latest_note, make_checkpoint


class Command(BaseCommand):
    help = "Make a signed checkpoint of the audit ledger's Merkle tree now."

    def handle(self, *args, **options):
        try:
            made = make_checkpoint()
        except (ImproperlyConfigured, CheckpointError) as exc:
            raise CommandError(str(exc)) from exc
        note = latest_note()
        if note is None:
            raise CommandError("the audit ledger is empty: nothing to checkpoint")
        if made is None:
            self.stderr.write("The tree has not grown since the latest checkpoint.")
        self.stdout.write(note, ending="")
