"""``add_user NAME --role staff|auditor|admin|gateway [--password P] [--email E] [--token]``.

A ``gateway`` user also gets its ``Gateway`` record (R25–R28)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from compliance.audit.context import system_actor
from compliance.models.roles import Role
from compliance.services.users import KEEP, ensure_user, issue_token


class Command(BaseCommand):
    help = (
        "Create or update a user with exactly one role. With --token, print only a new API "
        "token (it is stored hashed and cannot be shown again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help="staff, auditor, admin or gateway")
        parser.add_argument("--password", default=None, help="set this password")
        parser.add_argument("--email", default=None)
        parser.add_argument(
            "--token", action="store_true", help="create an API token and print only it"
        )

    def handle(self, *args, username, role, password, email, token, **options):
        if role not in Role.values:
            raise CommandError(f"Unknown role {role!r}: use one of {', '.join(Role.values)}.")
        if not username.strip():
            raise CommandError("The user name must not be empty.")
        with system_actor("add_user"), transaction.atomic():
            try:
                user, created, changed = ensure_user(
                    username,
                    role=role,
                    password=KEEP if password is None else password,
                    email=email,
                    reason=f"add_user --role {role}",
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            if role == Role.GATEWAY:
                from compliance.services.gateways import ensure_gateway

                ensure_gateway(user)
            key = None
            if token:
                key = issue_token(user)
        if key is not None:
            self.stdout.write(key)
            return
        what = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(f"{username}: {what} (role {role})")
