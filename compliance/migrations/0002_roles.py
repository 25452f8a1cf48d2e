"""Roles are Django groups (SPEC "Who uses it"), created here so every install has them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TRACKED = ["agency", "partner", "release", "signoff", "governmentrequest", "allowlistentry"]
STAFF_WRITES = ["release", "signoff", "governmentrequest", "allowlistentry"]


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="compliance")

    def codenames(actions, models):
        return [f"{a}_{m}" for a in actions for m in models]

    history = [f"historical{m}" for m in TRACKED]
    auditor = Group.objects.get_or_create(name="auditor")[0]
    auditor.permissions.set(perms.filter(codename__in=codenames(["view"], TRACKED + history)))
    staff = Group.objects.get_or_create(name="staff")[0]
    staff.permissions.set(
        perms.filter(
            codename__in=codenames(["view"], TRACKED + history)
            + codenames(["add", "change"], STAFF_WRITES)
        )
    )
    admin = Group.objects.get_or_create(name="admin")[0]
    admin.permissions.set(
        perms.filter(
            codename__in=codenames(["view"], TRACKED + history)
            + codenames(["add", "change"], TRACKED)
        )
    )


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["staff", "auditor", "admin"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, drop_roles)]
