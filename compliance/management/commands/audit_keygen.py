"""R34: ``python manage.py audit_keygen NAME`` prints a new note private key (first line)
and its verifier key (second line). Nothing is stored: put the private key in
AUDIT_SIGNING_KEY (or the AUDIT_SIGNING_KEY_FILE), hand the verifier key out.
``--witness`` makes a cosignature/v1 key (type 0x04) for ``clients/witness.py``."""

from django.core.management.base import BaseCommand, CommandError

from compliance.audit import notes


class Command(BaseCommand):
    help = "Print a new Ed25519 note private key and its verifier key."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the key name, e.g. clearance.example.org/audit")
        parser.add_argument(
            "--witness", action="store_true", help="a cosignature/v1 witness key (type 0x04)"
        )
        parser.add_argument("--output", help="also write the private key to this file (0600)")

    def handle(self, *args, name, witness, output, **options):
        key_type = notes.COSIGNATURE_V1 if witness else notes.ED25519
        try:
            private, verifier = notes.generate_key(name, key_type)
        except notes.NoteError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            import os

            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(private + "\n" + verifier + "\n")
        self.stdout.write(private)
        self.stdout.write(verifier)
