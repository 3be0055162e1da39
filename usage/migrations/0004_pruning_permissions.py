"""Finance and Viewer read the log of prunings, as they read the sync runs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.filter(
        content_type__app_label="usage", codename="view_llmusagepruning"
    )
    for group in Group.objects.filter(name__in=["Viewer", "Finance"]):
        group.permissions.add(*view)


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0003_raw_events_pruning"),
        ("billing", "0002_finance_and_viewer_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
