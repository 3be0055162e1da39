"""Finance keeps the price book (adds and overrides prices); Finance and Viewer read usage."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["view_modelprice", "view_llmusageevent", "view_llmusagedaily", "view_usageuser"]
FINANCE = ["add_modelprice", "change_modelprice", "delete_modelprice"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    mine = Permission.objects.filter(content_type__app_label="costledger")
    for group in Group.objects.filter(name__in=["Viewer", "Finance"]):
        group.permissions.add(*mine.filter(codename__in=READ))
        if group.name == "Finance":
            group.permissions.add(*mine.filter(codename__in=FINANCE))


class Migration(migrations.Migration):
    dependencies = [
        ("costledger", "0004_llm_usage_events_and_price_book"),
        ("billing", "0002_finance_and_viewer_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
