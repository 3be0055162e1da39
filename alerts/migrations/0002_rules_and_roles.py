"""The alert rules with their defaults, and what the two roles may do: Finance edits budgets
and acknowledges alerts, Viewer looks. Channels (their webhook URLs are secrets) and rules are
for superusers."""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

RULES = [
    ("cost_spike", Decimal(4), Decimal(10), 28),
    ("user_spike", Decimal(5), Decimal(5), 28),
    ("sync_health", None, None, None),
    ("unpriced_usage", None, None, None),
]
VIEW = ["budget", "alert", "delivery", "alertrule"]
FINANCE = [("add", "budget"), ("change", "budget"), ("delete", "budget"), ("change", "alert")]


def forwards(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for kind, factor, minimum, days in RULES:
        AlertRule.objects.get_or_create(
            kind=kind,
            defaults={"factor": factor, "minimum_amount": minimum, "baseline_days": days},
        )
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
    read = [permission("view", model) for model in VIEW]
    viewer.permissions.add(*read)
    finance.permissions.add(*read, *(permission(a, m) for a, m in FINANCE))


def backwards(apps, schema_editor):
    apps.get_model("alerts", "AlertRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("billing", "0002_finance_and_viewer_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
