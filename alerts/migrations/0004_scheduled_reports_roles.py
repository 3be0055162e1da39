"""Finance manages the scheduled reports, Viewer sees them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("alerts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permission(action, model):
        return Permission.objects.get(content_type__app_label="alerts", codename=f"{action}_{model}")

    viewer, _ = Group.objects.get_or_create(name="Viewer")
    finance, _ = Group.objects.get_or_create(name="Finance")
    read = [permission("view", "scheduledreport"), permission("view", "reportsend")]
    viewer.permissions.add(*read)
    finance.permissions.add(
        *read, *(permission(a, "scheduledreport") for a in ("add", "change", "delete"))
    )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0003_scheduled_reports")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
