"""The test run's ``flush`` (pytest-django resets ``transaction=True`` tests with it): Django's
own, with the append-only triggers off for its TRUNCATE. The triggers honour no session
setting a normal role can set (``compliance.models.base.AppendOnlySql``), so this uses
PostgreSQL's own switch, ``session_replication_role = replica``, which only a superuser (the
test database's owner) may set, ``SET LOCAL`` in the flush's own transaction so it ends with
it. Overrides the built-in command the documented way: an installed app's command of the same
name wins. Only config/test_settings.py installs this app, so production has no such path."""

from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections, transaction


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            return super().handle(**options)
        # Only the TRUNCATE runs with the triggers off: what post_migrate writes afterwards
        # (groups, permissions) runs with every trigger and constraint as usual.
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
            super().handle(**{**options, "inhibit_post_migrate": True})
        if not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(options["verbosity"], options["interactive"], connection.alias)
