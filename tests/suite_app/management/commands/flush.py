"""The test run's ``flush`` (pytest-django resets ``transaction=True`` tests with it): Django's
own, with the append-only triggers off for its TRUNCATE. The triggers honour no session
setting a normal role can set (``compliance.models.base.AppendOnlySql``), so this uses
PostgreSQL's own switch, ``session_replication_role = replica``, which only a superuser (the
test database's owner) may set, ``SET LOCAL`` in the flush's own transaction so it ends with
it. Overrides the built-in command the documented way: an installed app's command of the same
name wins. Only config/test_settings.py installs this app, so production has no such path.

After the TRUNCATE it also writes again the rows the data migrations wrote (the role groups
with their permissions, ``0002_roles`` and ``0010_gateway_role``, run as written against the
migrated state): a transactional test leaves the database as migrate made it, whatever test
runs next in that process. Without it, a test that reads a role group passes only when no
transactional test ran before it in the same process, which under pytest-xdist (each worker
runs a share of the modules) is a matter of scheduling."""

from functools import cache
from importlib import import_module

from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader

# (migration module, its RunPython functions that write rows), in migration order.
DATA_MIGRATIONS = [
    ("compliance.migrations.0002_roles", "create_roles"),
    ("compliance.migrations.0010_gateway_role", "create_role"),
]


@cache
def _migrated_apps(alias: str):
    """The app registry of the fully migrated state, as RunPython gets it (once a process)."""
    return MigrationLoader(connections[alias]).project_state().apps


def restore_migration_data(alias: str) -> None:
    apps = _migrated_apps(alias)
    schema_editor = connections[alias].schema_editor()
    with transaction.atomic(using=alias):
        for module, function in DATA_MIGRATIONS:
            getattr(import_module(module), function)(apps, schema_editor)


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
            restore_migration_data(connection.alias)
