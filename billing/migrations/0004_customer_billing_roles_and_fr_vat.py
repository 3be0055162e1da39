"""Finance enters customers, their users and tax rates; Viewer looks. The seller's country's
standard VAT (France, 20 %), which the invoices apply by default."""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["customer", "customeruser", "taxrate"]


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("billing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permission(action, model):
        return Permission.objects.get(content_type__app_label="billing", codename=f"{action}_{model}")

    viewer, _ = Group.objects.get_or_create(name="Viewer")
    finance, _ = Group.objects.get_or_create(name="Finance")
    read = [permission("view", model) for model in MODELS]
    viewer.permissions.add(*read)
    finance.permissions.add(
        *read, *(permission(a, m) for m in MODELS for a in ("add", "change", "delete"))
    )
    apps.get_model("billing", "TaxRate").objects.get_or_create(
        country="FR", defaults={"name": "TVA 20 %", "rate": Decimal(20)}
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_customers_and_tax_rates")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
