"""Finance may start a sync from the admin; Finance and Viewer may read the run log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["view_syncrun", "view_collectorrun"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    read = list(Permission.objects.filter(content_type__app_label="collectors", codename__in=READ))
    run = Permission.objects.get(content_type__app_label="collectors", codename="run_sync")
    for group in Group.objects.filter(name__in=["Viewer", "Finance"]):
        group.permissions.add(*read)
        if group.name == "Finance":
            group.permissions.add(run)


class Migration(migrations.Migration):
    dependencies = [
        ("collectors", "0001_initial"),
        ("billing", "0002_finance_and_viewer_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
