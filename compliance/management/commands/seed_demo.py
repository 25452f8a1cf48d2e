"""``seed_demo [--with-demo-users]``: replay the SPEC's demo scenario through the services.

Idempotent: when the scenario is already there it writes nothing (no history rows either).
The demo users always exist (they own the data); ``--with-demo-users`` gives them their
well-known passwords and prints the logins, otherwise their passwords are unusable."""

from django.core.management.base import BaseCommand
from django.db import transaction

from compliance import demo
from compliance.audit.context import system_actor


class Command(BaseCommand):
    help = "Load the demo scenario (idempotent). --with-demo-users sets and prints demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-demo-users",
            action="store_true",
            help="set the demo users' well-known passwords and print the logins",
        )

    def handle(self, *args, with_demo_users: bool, **options):
        verbose = options.get("verbosity", 1) > 1
        with system_actor("seed_demo"), transaction.atomic():
            wrote = demo.seed(log=self.stdout.write if verbose else (lambda _m: None))
            users = demo.set_demo_passwords() if with_demo_users else []
        if wrote:
            self.stdout.write(self.style.SUCCESS("Demo scenario loaded."))
        else:
            self.stdout.write("Demo scenario already present: nothing to do.")
        if users:
            self.stdout.write("Demo logins (user / password / role):")
            for u in users:
                self.stdout.write(f"  {u.username} / {u.password} / {u.role}")
        else:
            self.stdout.write(
                "Demo users have no password; run with --with-demo-users to set them."
            )
