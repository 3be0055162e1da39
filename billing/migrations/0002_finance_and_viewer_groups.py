"""The two roles of the ledger: Finance enters invoices and exchange rates, Viewer only reads.

Permissions are normally created after all migrations have run; create them here first so the
groups can be given them on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = [
    ("costledger", "costentry"),
    ("costledger", "metricsample"),
    ("costledger", "revenuesnapshot"),
    ("costledger", "exchangerate"),
    ("billing", "providerinvoice"),
    ("billing", "historicalproviderinvoice"),
]
FINANCE_WRITE = [("billing", "providerinvoice"), ("costledger", "exchangerate")]


def _permission(Permission, action, app_label, model):
    return Permission.objects.get(
        content_type__app_label=app_label, codename=f"{action}_{model}"
    )


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    viewer, _ = Group.objects.get_or_create(name="Viewer")
    finance, _ = Group.objects.get_or_create(name="Finance")
    read = [_permission(Permission, "view", app, model) for app, model in READ]
    write = [
        _permission(Permission, action, app, model)
        for app, model in FINANCE_WRITE
        for action in ("add", "change", "delete")
    ]
    viewer.permissions.add(*read)
    finance.permissions.add(*read, *write)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Viewer", "Finance"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("costledger", "0001_initial"),
        ("billing", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
